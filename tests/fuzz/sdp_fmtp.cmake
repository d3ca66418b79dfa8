trunx_add_fuzzer(sdp_fmtp trunx_sip)
