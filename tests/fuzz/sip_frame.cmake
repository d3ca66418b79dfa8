trunx_add_fuzzer(sip_frame trunx_sip)
