trunx_add_fuzzer(rtp trunx_media)
target_include_directories(fuzz_rtp PRIVATE ${PROJECT_SOURCE_DIR}/media/core
                           ${PROJECT_SOURCE_DIR}/media/session)
