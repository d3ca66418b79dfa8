/*
 * http_phrase.h — the standard reason phrase of an HTTP status code (RFC 7231, 6585),
 * for the status lines of the HTTP API; its error codes belong in the JSON body, not
 * there. libevent 2.1's own table stops at RFC 2616 (422 and 429 become "Client
 * Error") and names some codes the old way.
 */
#ifndef TRUNX_HTTP_PHRASE_H
#define TRUNX_HTTP_PHRASE_H

static inline const char *http_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Entity";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default:
		return status < 200 ? "Informational" : status < 300 ? "Success" :
		       status < 400 ? "Redirection" : status < 500 ? "Client Error" :
		       "Server Error";
	}
}

#endif
