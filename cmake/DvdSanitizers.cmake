add_library(dvd_sanitizers INTERFACE)
if(DVD_SANITIZE)
    if(DVD_SANITIZE MATCHES "address" AND DVD_SANITIZE MATCHES "thread")
        message(FATAL_ERROR "DVD_SANITIZE: address and thread sanitizers cannot be combined")
    endif()
    target_compile_options(dvd_sanitizers INTERFACE
        -fsanitize=${DVD_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_link_options(dvd_sanitizers INTERFACE -fsanitize=${DVD_SANITIZE})
    if(DVD_SANITIZE MATCHES "thread")
        # GCC warns that TSan does not model std::atomic_thread_fence (used inside Asio);
        # the fences there are not our synchronisation, so the warning must not be an error.
        target_compile_options(dvd_sanitizers INTERFACE -Wno-tsan)
    endif()
endif()
