/*
 * linkauth.h - proving on a link that both members know the herd secret.
 *
 * Challenge-response with HMAC-SHA256 (OpenSSL's libcrypto), keyed with
 * the shared secret from herd.conf's secret_file:
 *
 *   sender:   HELLO ... <nonce_s>
 *   receiver: WELCOME ... <nonce_r> <mac_r>   mac_r = HMAC("WELCOME", ...)
 *   sender:   AUTH <mac_s>                    mac_s = HMAC("AUTH", ...)
 *
 * Both MACs cover the herd, both names, both nonces and the sender's
 * epoch, so neither can be replayed on another link or connection.  The
 * sender sends no update until mac_r checks out; the receiver applies
 * none until mac_s does.  Without a secret the MACs are "-", and a member
 * with a secret refuses a peer without one (and the other way round).
 */
#ifndef HERD_LINKAUTH_H
#define HERD_LINKAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINKAUTH_NONCE_LEN	32	/* hex digits */
#define LINKAUTH_MAC_LEN	64	/* hex digits, or "-" */
#define LINKAUTH_SECRET_MIN	16
#define LINKAUTH_SECRET_MAX	1024

struct linkauth_secret {
	size_t len;			/* 0: no secret configured */
	unsigned char key[LINKAUTH_SECRET_MAX];
};

/* What a MAC covers on one link connection. */
struct linkauth_ctx {
	const char *herd, *sender, *receiver;
	const char *nonce_s, *nonce_r;	/* hex, NUL-terminated */
	uint64_t epoch;
};

/*
 * Reads the secret: the first line of path, white space trimmed; "" path
 * means none.  Returns 0, or -1 with a reason in err.
 */
int linkauth_load(const char *path, struct linkauth_secret *secret,
		  char *err, size_t errlen);

/* A fresh random nonce, LINKAUTH_NONCE_LEN hex digits + NUL. */
void linkauth_nonce(char out[LINKAUTH_NONCE_LEN + 1]);

/* The MAC for role ("WELCOME" or "AUTH") as hex, or "-" with no secret. */
void linkauth_mac(const struct linkauth_secret *secret, const char *role,
		  const struct linkauth_ctx *ctx,
		  char out[LINKAUTH_MAC_LEN + 1]);

/* True if mac (len bytes) is the right one, compared in constant time. */
bool linkauth_check(const struct linkauth_secret *secret, const char *role,
		    const struct linkauth_ctx *ctx, const char *mac,
		    size_t len);

#endif
