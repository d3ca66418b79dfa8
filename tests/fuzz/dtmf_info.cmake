trunx_add_fuzzer(dtmf_info trunx_sip)
