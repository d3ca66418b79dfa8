trunx_add_fuzzer(sip_body trunx_sip)
