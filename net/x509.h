/*
 * PEM and X.509 pieces BearSSL leaves to us: splitting PEM bundles, private
 * keys in any of the usual encodings, and the subjectAltName extension
 * (BearSSL's minimal engine matches DNS names only; IP SANs are ours).
 */
#ifndef RETINA_NET_X509_H
#define RETINA_NET_X509_H

#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"

struct pem_obj {
	char name[40];		/* "CERTIFICATE", "RSA PRIVATE KEY", ... */
	unsigned char *der;
	size_t len;
};

/*
 * Decode every PEM object in text (len bytes, need not end in NUL).
 * Returns the number of objects (*out malloc'd, free with pem_free) or -1
 * when the text is not PEM or an object is cut short; err says which.
 */
int pem_decode(const char *text, size_t len, struct pem_obj **out, char *err, size_t errlen);
void pem_free(struct pem_obj *objs, int n);

/* GeneralName tags of the names we report and match. */
enum { SAN_DNS = 2, SAN_IP = 7 };

/*
 * Call fn for each DNS and IP entry of the certificate's subjectAltName.
 * Returns 0, or -1 when the DER is malformed (fn may have been called).
 */
int x509_each_san(const unsigned char *der, size_t len,
		  void (*fn)(void *arg, int type, const unsigned char *val, size_t vlen), void *arg);
/* "DNS:localhost, IP:127.0.0.1" (truncated to fit); "" when there are none. */
char *x509_san_list(const unsigned char *der, size_t len, char *buf, size_t buflen);
/* 1 when the certificate names this address in an IP SAN, else 0. */
int x509_has_ip_san(const unsigned char *der, size_t len, const struct ipaddr *ip);

/*
 * The certificate's subject and issuer as "CN=name; O=org" (RDNs in
 * certificate order, unknown attributes by OID). 0, or -1 when malformed.
 */
int x509_names(const unsigned char *der, size_t len, char *subject, size_t slen, char *issuer, size_t ilen);

/* BearSSL's days since 0000-01-01 + seconds as "2020-01-02 00:00:00 UTC". */
char *x509_time_format(uint32_t days, uint32_t seconds, char *buf, size_t len);

#endif
