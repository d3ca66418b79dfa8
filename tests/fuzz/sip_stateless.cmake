trunx_add_fuzzer(sip_stateless trunx_sip PkgConfig::SOFIA)
target_include_directories(fuzz_sip_stateless PRIVATE ${PROJECT_SOURCE_DIR}/sip/ua)
