trunx_add_fuzzer(sdp trunx_sip)
