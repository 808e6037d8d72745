// Builds the dashboard into dist/: src/main.js and its imports (uPlot from node_modules
// included) bundled and minified by esbuild into content-hashed assets, and index.html
// pointing at them. Reproducible: the same sources and lockfile give the same bytes.
//
//   cd web && npm ci && npm run build        (make build does this)
//   node web/build.mjs --outdir /tmp/x/dist   (elsewhere; the browser test builds its own)
//
// No network at build or run time: everything comes from node_modules (installed by `npm ci`
// from package-lock.json).

import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const outdirFlag = process.argv.indexOf('--outdir');
const dist = outdirFlag > 0 && process.argv[outdirFlag + 1]
    ? resolve(process.argv[outdirFlag + 1]) : join(here, 'dist');
const assets = join(dist, 'assets');

async function main() {
    if (basename(dist) !== 'dist') {  // it is emptied first: never point it at anything else
        throw new Error(`--outdir must name a folder called dist, not ${dist}`);
    }
    await rm(dist, { recursive: true, force: true });
    await mkdir(assets, { recursive: true });

    const uplotPackage = JSON.parse(await readFile(join(here, 'node_modules', 'uplot', 'package.json'), 'utf8'));
    const result = await esbuild.build({
        absWorkingDir: here,
        entryPoints: { app: join(src, 'main.js') },
        bundle: true,
        minify: true,
        format: 'esm',
        target: ['es2022', 'chrome100', 'firefox100', 'safari15'],
        outdir: assets,
        entryNames: '[name]-[hash]',
        assetNames: '[name]-[hash]',
        metafile: true,
        sourcemap: false,
        legalComments: 'none',
        banner: {
            js: `/*! Deepfake Voice Detector dashboard. Includes uPlot ${uplotPackage.version} ` +
                '(MIT, Leon Sorokin): see /assets/THIRD-PARTY-LICENSES.txt */',
        },
        logLevel: 'warning',
    });

    let js = null;
    let css = null;
    for (const [file, output] of Object.entries(result.metafile.outputs)) {
        if (output.entryPoint && file.endsWith('.js')) {
            js = basename(file);
            css = output.cssBundle ? basename(output.cssBundle) : css;
        }
    }
    if (!js || !css) {
        throw new Error(`unexpected build outputs: ${Object.keys(result.metafile.outputs).join(', ')}`);
    }

    const template = await readFile(join(src, 'index.html'), 'utf8');
    const html = template.replace('__APP_JS__', js).replace('__APP_CSS__', css);
    if (html.includes('__APP_')) {
        throw new Error('index.html: a placeholder was not replaced');
    }
    await writeFile(join(dist, 'index.html'), html);
    await copyFile(join(src, 'favicon.svg'), join(assets, 'favicon.svg'));

    const licence = await readFile(join(here, 'node_modules', 'uplot', 'LICENSE'), 'utf8');
    await writeFile(join(assets, 'THIRD-PARTY-LICENSES.txt'),
        `uPlot ${uplotPackage.version} (bundled in ${js} and ${css})\n\n${licence}`);

    const sizes = Object.entries(result.metafile.outputs)
        .map(([file, output]) => `${basename(file)} ${(output.bytes / 1024).toFixed(1)} KiB`);
    console.log(`web: built ${dist} (${sizes.join(', ')})`);
}

main().catch((error) => {
    console.error(`web: build failed: ${error.message}`);
    process.exit(1);
});
