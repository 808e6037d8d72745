#!/usr/bin/python3
"""Builds the training / evaluation corpus from Debian packages (see tools/corpus/README.md).

  /usr/bin/python3 tools/corpus/build_corpus.py [--out data/corpus] [--max-per-source N] [--jobs 2]

Stages (each resumable: outputs that exist are kept):
  1 raw genuine speech          raw/genuine/<source>/
  2 raw TTS speech              raw/synthetic/<attack>/<voice>/
  3 raw vocoded copies          raw/synthetic/{sptk-mlsa,lpc,griffin-lim}/<source>/ (+ hifigan/)
    and concatenated speech     raw/synthetic/concat/<source>/ (opt-in; train and dev only)
  4 telephone chain             clips/<split>/<label>/<id>.wav (8 kHz 16-bit PCM), and with
                                --train-degraded-share a degraded copy of some train clips,
                                clips/train/<label>/<id>__d-<kind>.wav (degrade.py)
  5 manifest.csv + summary.json
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import channel  # noqa: E402
import concat  # noqa: E402
import degrade  # noqa: E402
import genuine  # noqa: E402
import tts  # noqa: E402
import vocode  # noqa: E402
from common import (guard, log, package_licence, rng_for, wav_duration_s,  # noqa: E402
                    write_json_atomic)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MAX_PER_SOURCE = 500
MANIFEST_HEADER = ["path", "label", "split", "source", "speaker", "attack", "codec", "licence",
                   "duration_s"]
SPLITS = ["train", "dev", "test"]

# Bumped whenever the builder makes other bytes from the same packages and options. 2: the
# fifteenth session's (float resampling, MBROLA run directly, babble pools of stages 1-3).
BUILDER_VERSION = 2
BUILDER_VERSION_FILE = "BUILDER_VERSION"

# expected vocoded copies per genuine clip (detection.md section 5: vocode the cleanest most)
COPIES_CLEAN = 1.0
COPIES_OTHER = 0.3
# TTS clips per split: at least this fraction of the split's genuine clips
MIN_TTS_FRACTION = 0.35
# and at least this many clips per voice, so per-attack error rates can be measured on dev/test
MIN_TTS_PER_VOICE = 30


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "data" / "corpus")
    ap.add_argument("--max-per-source", type=int, default=DEFAULT_MAX_PER_SOURCE,
                    help="cap of genuine clips per source package (default %(default)s)")
    ap.add_argument("--max-per-train-source", type=int, default=None,
                    help="cap for the train split's sources (default: --max-per-source); dev "
                         "and test keep --max-per-source")
    ap.add_argument("--jobs", type=int, default=2, help="parallel worker processes (max 2 here)")
    ap.add_argument("--copies", type=int, default=1,
                    help="telephone-chained copies per raw clip (different draws)")
    ap.add_argument("--train-copies", type=int, default=None,
                    help="copies for the train split (default: --copies)")
    ap.add_argument("--train-vocoded-copies", type=float, default=None,
                    help="expected classic-vocoder copies per train genuine clip, all sources "
                         f"(default: {COPIES_CLEAN} for clean sources, {COPIES_OTHER} for others)")
    ap.add_argument("--train-degraded-share", type=float, default=0.0, metavar="F",
                    help="share of train clips (both classes) that also get a copy degraded "
                         "before the chain: a room, a narrow band, clipping or gain control "
                         "(degrade.py), named <id>__d-<kind>.wav (default %(default)s)")
    ap.add_argument("--concat-copies", default="0", metavar="TRAIN[,DEV]",
                    help="concatenated-speech clips (concat.py) per train [and dev] genuine clip "
                         "of a known speaker; off by default: trained on, they hurt (model card). "
                         "Never in test")
    ap.add_argument("--stages", default="1,2,3,4,5", help="comma list of stages to run")
    ap.add_argument("--hifigan-dir", type=Path, default=None,
                    help="neural vocoder copies (default <out>/raw/synthetic/hifigan)")
    ap.add_argument("--ready-file", type=Path, default=None,
                    help="file written when the build is complete (default <out>/FULL_READY)")
    return ap.parse_args()


# ------------------------------------------------------------------------------------ planning
def tts_plan(genuine_rows: dict[str, list[dict]], vocoded_plan: list, max_per_source: int
             ) -> dict[str, int]:
    # small (smoke) corpora get a proportionally smaller minimum
    min_per_voice = min(MIN_TTS_PER_VOICE, max(3, max_per_source // 10))
    g = Counter()
    for rows in genuine_rows.values():
        for r in rows:
            g[r["split"]] += 1
    v = Counter(r["split"] for r, _, _ in vocoded_plan)
    per_voice = {}
    for split in SPLITS:
        voices = [vc for vc in tts.VOICES if vc.split == split and tts.voice_available(vc)]
        if not voices:
            continue
        target = max(g[split] - v[split], MIN_TTS_FRACTION * g[split])
        n = max(min_per_voice, math.ceil(target / len(voices)))
        for vc in voices:
            per_voice[vc.name] = n
        log(f"plan {split}: genuine {g[split]}, vocoded {v[split]}, TTS {n} x {len(voices)} voices")
    return per_voice


def hifigan_rows(out: Path, hifigan_dir: Path, genuine_rows: dict[str, list[dict]]) -> list[dict]:
    """Neural vocoder copies written by the vocoder trainer: <dir>/<source>/<genuine name>.wav."""
    if not hifigan_dir.exists():
        log(f"stage4: no neural vocoder copies yet ({hifigan_dir} does not exist)")
        return []
    by_key = {(src, r["file"]): r for src, rows in genuine_rows.items() for r in rows}
    rows = []
    unmatched = 0
    recent = 0
    now = time.time()
    # resynth.py writes DONE after its last clip: then every file is complete, however young.
    # Without it, a file written in the last minute may still be being written.
    done = (hifigan_dir / "DONE").exists()
    for src_dir in sorted(p for p in hifigan_dir.iterdir() if p.is_dir()):
        guard(src_dir.name)
        for wav in sorted(src_dir.glob("*.wav")):
            if not done and now - wav.stat().st_mtime < 60:
                recent += 1  # taken by the next run
                continue
            g = by_key.get((src_dir.name, wav.name))
            if g is None:
                unmatched += 1
                continue
            rows.append({"file": wav.name, "abs": str(wav), "source": g["source"],
                         "package": g["package"], "speaker": g["speaker"], "split": g["split"],
                         "label": "synthetic", "attack": "hifigan", "origin": g["file"]})
    log(f"stage4: hifigan copies: {len(rows)} matched, {unmatched} without a genuine clip in this "
        f"corpus, {recent} younger than 60 s left for the next run, DONE marker "
        f"{'present' if done else 'absent'}")
    return rows


def raw_items(out: Path, genuine_rows, tts_rows, voc_rows, hifi_rows) -> list[dict]:
    """Uniform list of raw clips: {abs, id, label, split, source, speaker, attack, package}."""
    items = []
    for source, rows in genuine_rows.items():
        for r in rows:
            items.append(dict(r, abs=str(out / "raw" / "genuine" / source / r["file"]),
                              id=f"gen__{source}__{Path(r['file']).stem}"))
    for key, rows in tts_rows.items():
        for r in rows:
            items.append(dict(r, abs=str(out / "raw" / "synthetic" / key / r["file"]),
                              id=f"tts__{r['attack']}__{r['voice']}__{Path(r['file']).stem}"))
    for r in voc_rows:
        items.append(dict(r, abs=str(out / r["dir"] / r["file"]),
                          id=f"voc__{r['attack']}__{r['source']}__{Path(r['file']).stem}"))
    for r in hifi_rows:
        items.append(dict(r, id=f"voc__hifigan__{r['source']}__{Path(r['file']).stem}"))
    for it in items:
        guard(it["abs"])
        guard(it["package"])
    return items


def check_splits(items: list[dict]) -> None:
    """Speakers and genuine source packages must each belong to one split."""
    spk = defaultdict(set)
    src = defaultdict(set)
    for it in items:
        spk[it["speaker"]].add(it["split"])
        if it["label"] == "genuine":
            src[it["source"]].add(it["split"])
    bad = [k for k, v in spk.items() if len(v) > 1] + [k for k, v in src.items() if len(v) > 1]
    if bad:
        raise SystemExit(f"split leak: {bad[:10]}")
    log(f"splits: {len(spk)} speakers/voices and {len(src)} genuine sources, each in one split")


# ------------------------------------------------------------------------------------ stage 4/5
BABBLE_PER_LABEL = 25
BABBLE_POOLS_FILE = "babble_pools.json"


def babble_pools(items: list[dict]) -> dict[str, list[str]]:
    """Per split, 25 genuine and 25 synthetic raw clips (paths) whose mixture makes the babble
    noise of that split's chain (channel.py). Drawn with a fixed seed only from what stages 1-3
    make in every build: HiFi-GAN copies arrive in a later run (after resynth.py) and
    concatenated speech is opt-in, so neither moves a pool, and a clip's babble does not depend
    on which runs built the corpus (the thirteenth session's rebuild drew other babble for the
    clips chained before the HiFi-GAN copies existed than the corpus it rebuilt had)."""
    late = {"hifigan", concat.ATTACK}
    pools: dict[str, list[str]] = {}
    for split in SPLITS:
        chosen = []
        for label in ("genuine", "synthetic"):
            cand = sorted(it["abs"] for it in items if it["split"] == split and
                          it["label"] == label and it["attack"] not in late)
            rng = rng_for(channel.GLOBAL_SEED, "babble", split, label)
            chosen += [cand[int(i)] for i in rng.permutation(len(cand))[:BABBLE_PER_LABEL]]
        pools[split] = chosen
    return pools


def check_babble_pools(out: Path, pools: dict[str, list[str]]) -> None:
    """Keeps the pools the chained clips on disk were made with in <out>/babble_pools.json and
    refuses to chain more clips of a split whose pool has changed since (other genuine clips,
    --max-per-train-source): its clips would mix two babbles. The first run writes the file."""
    path = out / BABBLE_POOLS_FILE
    rel = {split: [str(Path(p).relative_to(out)) for p in paths] for split, paths in pools.items()}
    if path.exists():
        kept = json.loads(path.read_text())
        changed = [s for s in SPLITS if s in kept and kept[s] != rel[s] and
                   any((out / "clips" / s).rglob("*.wav"))]
        if changed:
            raise SystemExit(
                f"stage4: the babble pool of {', '.join(changed)} differs from the one its chained "
                f"clips were made with ({path}); remove "
                f"{' and '.join(str(out / 'clips' / s) for s in changed)} to chain "
                f"{'it' if len(changed) == 1 else 'them'} again")
    write_json_atomic(path, rel)


def run_chain(out: Path, items: list[dict], copies: int, train_copies: int, jobs: int,
              train_degraded_share: float = 0.0) -> tuple[list[dict], list[str]]:
    """Chains every item (stage 4) and returns the manifest rows and the chained clips left out
    of the manifest (genuine.CODEC_COPIES). A share of the train items (degrade.picked) also
    gets a copy degraded before the chain, with the same chain draw as its first copy, so that
    the degradation is the only difference between the two."""
    pools = babble_pools(items)
    check_babble_pools(out, pools)
    jobs_list = []
    rows = []
    for it in items:
        k_max = train_copies if it["split"] == "train" else copies
        for k in range(k_max):
            cid = it["id"] if k == 0 else f"{it['id']}__c{k}"
            rel = Path("clips") / it["split"] / it["label"] / f"{cid}.wav"
            jobs_list.append((it["abs"], str(out / rel), it["id"], k, it["split"]))
            rows.append((it, rel, k))
        if (it["split"] == "train" and train_degraded_share > 0 and
                degrade.picked(channel.GLOBAL_SEED, it["id"], train_degraded_share) and
                not (it["label"] == "genuine" and genuine.is_codec_copy(it["source"],
                                                                         it["file"]))):
            d = degrade.draw(channel.GLOBAL_SEED, it["id"])
            rel = Path("clips") / "train" / it["label"] / f"{it['id']}__d-{d['kind']}.wav"
            jobs_list.append((it["abs"], str(out / rel), it["id"], 0, it["split"], d))
            rows.append((it, rel, 0))
    todo = [j for j in jobs_list if not Path(j[1]).exists()]
    log(f"stage4: {len(jobs_list)} chained clips, {len(todo)} to make")
    errors = 0
    if todo:
        with ProcessPoolExecutor(max_workers=jobs, initializer=channel.set_babble_pools,
                                 initargs=(pools,)) as pool:
            for n, (dest, err) in enumerate(pool.map(channel.chain_job, todo, chunksize=8), 1):
                if err:
                    errors += 1
                    log(f"stage4: {dest}: {err}")
                if n % 500 == 0 or n == len(todo):
                    log(f"stage4: {n}/{len(todo)} chained")
    manifest = []
    left_out = []
    for it, rel, k in rows:
        p = out / rel
        if not p.exists():
            continue
        if it["label"] == "genuine" and genuine.is_codec_copy(it["source"], it["file"]):
            left_out.append(str(rel))
            continue
        params = channel.draw_params(it["id"], k)
        manifest.append({
            "path": str(rel), "label": it["label"], "split": it["split"],
            "source": it["package"], "speaker": it["speaker"], "attack": it["attack"],
            "codec": params["codec"], "licence": package_licence(it["package"]),
            "duration_s": f"{wav_duration_s(p):.3f}",
        })
    log(f"stage4: {len(manifest)} clips in the manifest ({errors} errors); {len(left_out)} "
        f"genuine clips of codec copies left out (genuine.CODEC_COPIES)")
    return manifest, left_out


def write_manifest(out: Path, manifest: list[dict]) -> Path:
    path = out / "manifest.csv"
    tmp = out / ".tmp-manifest.csv"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_HEADER, lineterminator="\n")
        w.writeheader()
        for r in sorted(manifest, key=lambda r: r["path"]):
            w.writerow(r)
    os.replace(tmp, path)
    return path


def degraded_counts(manifest: list[dict]) -> dict:
    """label -> degradation kind -> clips, from the `__d-<kind>` names run_chain gives them."""
    c: dict = {}
    for r in manifest:
        stem = Path(r["path"]).stem
        if "__d-" in stem:
            kinds = c.setdefault(r["label"], {})
            kind = stem.rsplit("__d-", 1)[1]
            kinds[kind] = kinds.get(kind, 0) + 1
    return c


def summarize(manifest: list[dict], left_out: list[str], elapsed_s: float,
              args: argparse.Namespace) -> dict:
    def count(*keys: str) -> dict:
        c: dict = {}
        for r in manifest:
            node = c
            for k in keys[:-1]:
                node = node.setdefault(r[k], {})
            node[r[keys[-1]]] = node.get(r[keys[-1]], 0) + 1
        return c

    hours: dict = defaultdict(lambda: defaultdict(float))
    for r in manifest:
        hours[r["split"]][r["label"]] += float(r["duration_s"]) / 3600.0
    return {
        "clips": len(manifest),
        "hours": round(sum(float(r["duration_s"]) for r in manifest) / 3600.0, 3),
        "per_split_label": count("split", "label"),
        "hours_per_split_label": {s: {k: round(v, 3) for k, v in d.items()}
                                  for s, d in hours.items()},
        "per_split_attack": count("split", "attack"),
        "per_split_source": count("split", "source"),
        "per_codec": count("codec"),
        "train_degraded_per_label_kind": degraded_counts(manifest),
        "per_licence": count("licence"),
        "left_out_codec_copies": sorted(left_out),
        "build_seconds": round(elapsed_s, 1),
        "options": {"max_per_source": args.max_per_source,
                    "max_per_train_source": args.max_per_train_source or args.max_per_source,
                    "copies": args.copies,
                    "train_copies": args.train_copies or args.copies, "jobs": args.jobs,
                    "train_vocoded_copies": args.train_vocoded_copies,
                    "train_degraded_share": args.train_degraded_share},
    }


def check_builder_version(out: Path) -> None:
    """Refuses to add to a corpus that another builder version made: every stage keeps the
    outputs that exist, so a rerun would mix its clips with this builder's. A folder without
    outputs is stamped with this version; one with outputs and no stamp predates the stamp."""
    stamp = out / BUILDER_VERSION_FILE
    if stamp.exists():
        version = int(stamp.read_text().strip() or "0")
    elif any((out / d).exists() for d in ("raw", "clips")):
        version = 1
    else:
        version = BUILDER_VERSION
    if version != BUILDER_VERSION:
        raise SystemExit(
            f"{out} was made by corpus builder version {version}, and this is version "
            f"{BUILDER_VERSION}: its clips differ (tools/corpus/README.md, \"Reproducible "
            f"builds\"), and every stage keeps what exists, so the two would mix. Build into an "
            f"empty --out, or remove {out}.")
    stamp.write_text(f"{BUILDER_VERSION}\n")


def main() -> int:
    args = parse_args()
    t0 = time.time()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    check_builder_version(out)
    stages = {int(s) for s in args.stages.split(",") if s.strip()}
    jobs = max(1, min(args.jobs, 2))
    log(f"corpus -> {out} (max {args.max_per_source} genuine clips per source, "
        f"{args.max_per_train_source or args.max_per_source} per train source, {jobs} jobs)")

    genuine_rows = genuine.build_genuine(out, args.max_per_source, jobs,
                                         max_per_train_source=args.max_per_train_source
                                         ) if 1 in stages else {
        s: r for s in genuine.SOURCES
        if (r := [dict(x) for x in _read(out / "raw" / "genuine" / s / "index.jsonl")])}
    base_plan = vocode.plan(genuine_rows, COPIES_CLEAN, COPIES_OTHER, genuine.CLEAN_SOURCES)
    # The TTS budget follows the base plan, so extra train copies add data instead of
    # displacing TTS clips.
    per_voice = tts_plan(genuine_rows, base_plan, args.max_per_source)
    voc_plan = vocode.plan(genuine_rows, COPIES_CLEAN, COPIES_OTHER, genuine.CLEAN_SOURCES,
                           args.train_vocoded_copies)
    tts_rows = tts.build_tts(out, per_voice, jobs) if 2 in stages else tts.existing_index(out)
    voc_rows = vocode.build_vocoded(out, voc_plan, jobs) if 3 in stages else [
        r for r in _read_all(out / "raw" / "synthetic", {"sptk-mlsa", "lpc", "griffin-lim"})]
    concat_copies = dict(zip(("train", "dev"), (float(x) for x in args.concat_copies.split(","))))
    if any(concat_copies.values()):
        voc_rows += (concat.build_concat(out, concat.plan(genuine_rows, concat_copies), jobs)
                     if 3 in stages else _read_all(out / "raw" / "synthetic", {concat.ATTACK}))
    hifi_rows = hifigan_rows(out, args.hifigan_dir or out / "raw" / "synthetic" / "hifigan",
                             genuine_rows)
    items = raw_items(out, genuine_rows, tts_rows, voc_rows, hifi_rows)
    check_splits(items)
    if 4 in stages or 5 in stages:
        manifest, left_out = run_chain(out, items, args.copies, args.train_copies or args.copies,
                                       jobs, args.train_degraded_share)
        path = write_manifest(out, manifest)
        summary = summarize(manifest, left_out, time.time() - t0, args)
        (out / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
        print(json.dumps(summary, indent=1, sort_keys=True))
        log(f"manifest: {path} ({len(manifest)} clips, {summary['hours']} h) in "
            f"{time.time() - t0:.0f} s")
        ready = args.ready_file or out / "FULL_READY"
        ready.parent.mkdir(parents=True, exist_ok=True)
        ready.write_text(f"{path}\n")
    return 0


def _read(path: Path) -> list[dict]:
    from common import read_lines
    return read_lines(path)


def _read_all(root: Path, attacks: set[str]) -> list[dict]:
    rows = []
    for a in sorted(attacks):
        for idx in sorted((root / a).glob("*/index.jsonl")):
            rows.extend(_read(idx))
    return rows


def run() -> int:
    """main(), with a tool that outran its timeout reported in one line instead of a traceback:
    every clip made so far is kept, and running the build again goes on from there."""
    try:
        return main()
    except subprocess.TimeoutExpired as e:
        cmd = e.cmd if isinstance(e.cmd, str) else " ".join(str(a) for a in e.cmd)
        print(f"build_corpus: a tool did not finish within {e.timeout:g} s: {cmd}\n"
              "build_corpus: the clips made so far are kept; run the same command again to go "
              "on (a machine paused or far overloaded is the usual cause)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(run())
