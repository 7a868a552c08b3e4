/*
 * control.h - herdd's control socket: the protocol herdctl speaks.
 *
 * A UNIX stream socket (herd.conf: control_socket, default
 * RUN_DIR/herdd.sock, mode 0660).  On each connection the client sends one
 * request and reads one answer; each is one frame: a 4-byte big-endian
 * length, then that many bytes of JSON (at most CONTROL_FRAME_MAX).  A
 * malformed or oversized request gets an error answer (if it was framed)
 * and the connection is closed; it never affects herdd otherwise.
 *
 * Requests:
 *   {"version":1,"command":"status"}
 *   {"version":1,"command":"stop"}
 *   {"version":1,"command":"reload"}
 *   {"version":1,"command":"lookup","member":"Riley","client":"kiwi"}
 *
 * Answers always carry "version" and "ok"; a failed one has "error" (a
 * sentence for a person).  Successful answers:
 *   stop:   {"version":1,"ok":true,"pid":123}   (herdd then stops;
 *           herdctl waits until pid is gone)
 *   reload: {"version":1,"ok":true}              (applied), or ok false
 *           with the reason (nothing changed)
 *   lookup: {"version":1,"ok":true,"found":true,"line":"AT Riley ..."}
 *   status: {"version":1,"ok":true,
 *     "herdd":{"pid":123,"uptime_s":12.5,"config":"/etc/herd/herd.conf",
 *              "herd":"herd2021","reloads":0},
 *     "members":[{
 *       "name":"Riley","client":"127.0.0.1:12480","peer":"127.0.0.1:12580",
 *       "table":{"entries":10,"capacity":100000,"last_change":12,
 *                "epoch":"0123456789abcdef"},
 *       "workers":[{"slot":0,"pid":124,"state":"running","uptime_s":12.0,
 *                   "restarts":0,"backoff_ms":0,"connections":3,
 *                   "requests":100,
 *                   "places":{"requests":5,"errors":0,"upstream":4,
 *                             "latency_ms_avg":80.5,
 *                             "latency_ms_max":120.0}}],
 *       "flooder":{"pid":125,"state":"running","uptime_s":12.0,
 *                  "restarts":0,"backoff_ms":0,
 *                  "links":[{"peer":"Jaquez","direction":"out",
 *                            "state":"up","since_s":11.9,
 *                            "sent":10,"received":0}]}
 *     }]}
 *   A worker or flooder "state" is "running", "respawning" (waiting out
 *   its backoff) or "stopped"; pid is 0 unless running.  A link "state" is
 *   "idle", "connecting", "hello" or "up" (out), "hello" or "up" (in).
 *   "flooder" is null for a member without links.
 */
#ifndef HERD_CONTROL_H
#define HERD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol.h"

#define CONTROL_VERSION		1
#define CONTROL_FRAME_MAX	(4 * 1024 * 1024)
#define CONTROL_CLIENT_MAX	1024

enum control_command {
	CONTROL_INVALID = 0,
	CONTROL_STATUS,
	CONTROL_STOP,
	CONTROL_RELOAD,
	CONTROL_LOOKUP,
};

struct control_request {
	enum control_command command;
	char member[PROTO_NAME_MAX + 1];	/* lookup */
	char client[CONTROL_CLIENT_MAX + 1];	/* lookup */
};

/*
 * Parses a request's JSON (len bytes, not NUL-terminated).  Returns the
 * command, or CONTROL_INVALID with a reason in err.
 */
enum control_command control_parse_request(const char *json, size_t len,
					   struct control_request *req,
					   char *err, size_t errlen);

/*
 * Frame decoding for a non-blocking reader: given the bytes received so
 * far, returns the payload length once a whole frame is there (and sets
 * *payload), 0 if more bytes are needed, or -1 if the frame is too big.
 */
long control_frame_ready(const unsigned char *buf, size_t len,
			 const unsigned char **payload);

/* Writes the 4-byte header for a payload of len bytes into hdr. */
void control_frame_header(unsigned char hdr[4], size_t len);

/*
 * For herdctl: connects to path, sends request (JSON text), and reads the
 * answer, waiting at most timeout_ms in all.  Returns a malloc'd
 * NUL-terminated answer, or NULL with errno set (ENOENT/ECONNREFUSED: no
 * herdd there; ETIMEDOUT; EPROTO: a bad answer).
 */
char *control_call(const char *path, const char *request, int timeout_ms);

#endif
