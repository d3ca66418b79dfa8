# The SIP front as trunx uses it: stack parser with trunx's class -> trunx's checks.
trunx_add_fuzzer(sip_front trunx_core trunx_sip PkgConfig::SOFIA PkgConfig::JANSSON)
target_include_directories(fuzz_sip_front PRIVATE ${PROJECT_SOURCE_DIR}/sip/ua
                           ${PROJECT_SOURCE_DIR}/src)
