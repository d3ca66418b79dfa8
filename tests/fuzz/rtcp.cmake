trunx_add_fuzzer(rtcp trunx_media)
