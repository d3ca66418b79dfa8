trunx_add_fuzzer(sipfrag trunx_sip)
