/*
 * linkauth.c - link authentication with HMAC-SHA256; see linkauth.h.
 */
#include "linkauth.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static void to_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int linkauth_load(const char *path, struct linkauth_secret *secret,
		  char *err, size_t errlen)
{
	char line[LINKAUTH_SECRET_MAX + 2];
	size_t len;
	FILE *fp;

	memset(secret, 0, sizeof *secret);
	if (path[0] == '\0')
		return 0;
	fp = fopen(path, "re");
	if (fp == NULL || fgets(line, sizeof line, fp) == NULL) {
		snprintf(err, errlen, "secret_file %s: %s", path,
			 fp ? "empty" : strerror(errno));
		if (fp != NULL)
			fclose(fp);
		return -1;
	}
	fclose(fp);
	len = strlen(line);
	while (len > 0 && is_space((unsigned char)line[len - 1]))
		len--;
	if (len < LINKAUTH_SECRET_MIN || len > LINKAUTH_SECRET_MAX) {
		snprintf(err, errlen, "secret_file %s: the secret must be %d "
			 "to %d bytes", path, LINKAUTH_SECRET_MIN,
			 LINKAUTH_SECRET_MAX);
		return -1;
	}
	memcpy(secret->key, line, len);
	secret->len = len;
	OPENSSL_cleanse(line, sizeof line);
	return 0;
}

void linkauth_nonce(char out[LINKAUTH_NONCE_LEN + 1])
{
	unsigned char raw[LINKAUTH_NONCE_LEN / 2];
	size_t got = 0;

	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
	to_hex(raw, sizeof raw, out);
}

void linkauth_mac(const struct linkauth_secret *secret, const char *role,
		  const struct linkauth_ctx *ctx,
		  char out[LINKAUTH_MAC_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char msg[512];
	int n;

	if (secret->len == 0) {
		strcpy(out, "-");
		return;
	}
	n = snprintf(msg, sizeof msg, "%s|%s|%s|%s|%s|%s|%016" PRIx64, role,
		     ctx->herd, ctx->sender, ctx->receiver, ctx->nonce_s,
		     ctx->nonce_r, ctx->epoch);
	if (n < 0 || (size_t)n >= sizeof msg ||
	    HMAC(EVP_sha256(), secret->key, (int)secret->len,
		 (const unsigned char *)msg, (size_t)n, mac, &mac_len) == NULL ||
	    mac_len * 2 != LINKAUTH_MAC_LEN) {
		strcpy(out, "!");	/* matches nothing */
		return;
	}
	to_hex(mac, mac_len, out);
}

bool linkauth_check(const struct linkauth_secret *secret, const char *role,
		    const struct linkauth_ctx *ctx, const char *mac,
		    size_t len)
{
	char want[LINKAUTH_MAC_LEN + 1];

	linkauth_mac(secret, role, ctx, want);
	return len == strlen(want) && CRYPTO_memcmp(want, mac, len) == 0;
}
