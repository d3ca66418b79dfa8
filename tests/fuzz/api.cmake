# The HTTP API (src/api): request bodies and the request path (URI, query, router).
trunx_add_fuzzer(api_json trunx_core)
trunx_add_fuzzer(api_route trunx_core)
# The node's key copy under revocation channel messages (any bytes from Redis).
trunx_add_fuzzer(api_keycache trunx_core)
# The connection filter's reading of request heads and chunk size lines (api_head.c).
trunx_add_fuzzer(api_head trunx_core)
