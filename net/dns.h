/*
 * DNS messages (RFC 1035, 3596, 2782, 6891, 8659): build a query, parse and
 * validate a response, print records in presentation form. Pure code: no
 * sockets (net/resolv.h sends and receives). Every read of a message is
 * bounds-checked; compression pointers must point backwards, so a hostile
 * message cannot loop.
 */
#ifndef RETINA_NET_DNS_H
#define RETINA_NET_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	DNS_HEADER_LEN = 12,
	DNS_NAME_WIRE_MAX = 255,
	/* Text of a name with every byte escaped as \DDD, the final dot and NUL. */
	DNS_NAME_TEXT = 4 * DNS_NAME_WIRE_MAX + 2,
	DNS_CLASS_IN = 1,
	DNS_EDNS_UDP = 1232,	/* the DNS flag day 2020 size */
};

enum dns_type {
	DNS_T_A = 1, DNS_T_NS = 2, DNS_T_CNAME = 5, DNS_T_SOA = 6, DNS_T_PTR = 12,
	DNS_T_MX = 15, DNS_T_TXT = 16, DNS_T_AAAA = 28, DNS_T_SRV = 33, DNS_T_OPT = 41,
	DNS_T_ANY = 255, DNS_T_CAA = 257,
};

/* Header flag bits, in the order dig prints them. */
#define DNS_F_QR 0x8000
#define DNS_F_AA 0x0400
#define DNS_F_TC 0x0200
#define DNS_F_RD 0x0100
#define DNS_F_RA 0x0080
#define DNS_F_AD 0x0020
#define DNS_F_CD 0x0010

enum dns_rcode { DNS_R_NOERROR = 0, DNS_R_FORMERR = 1, DNS_R_SERVFAIL = 2, DNS_R_NXDOMAIN = 3,
		 DNS_R_NOTIMP = 4, DNS_R_REFUSED = 5 };

enum dns_section { DNS_S_ANSWER, DNS_S_AUTHORITY, DNS_S_ADDITIONAL, DNS_S_COUNT };

/* "MX", "mx", "TYPE15" -> 15; -1 when unknown. */
int dns_type_parse(const char *s);
/* 15 -> "MX"; unknown -> "TYPE65280" (RFC 3597). buf >= 16 bytes. */
const char *dns_type_name(unsigned type, char buf[16]);
/* 3 -> "NXDOMAIN"; unknown -> "RCODE23". buf >= 16 bytes. */
const char *dns_rcode_name(unsigned rcode, char buf[16]);
const char *dns_opcode_name(unsigned opcode, char buf[16]);

/*
 * Text name ("example.com", "example.com.", ".", escapes "\." and "\DDD") to
 * wire form. Returns the wire length, or -1 (empty label, label > 63, name >
 * 255, bad escape, output too small).
 */
int dns_name_to_wire(const char *text, uint8_t *out, size_t outlen);

/* Why a name could not be read from a message. */
enum dns_name_err { DNS_NAME_OK = 0, DNS_NAME_TRUNCATED = -1, DNS_NAME_LOOP = -2, DNS_NAME_TOO_LONG = -3,
		    DNS_NAME_BAD_LABEL = -4 };
const char *dns_name_strerror(int err);

/*
 * Read the name at off in msg, following compression pointers (each must
 * point before the pointer itself, so loops are impossible). text gets the
 * escaped presentation form with a final dot (DNS_NAME_TEXT bytes suffice);
 * *next the offset just after the name where it sits. 0 or a dns_name_err.
 */
int dns_name_read(const uint8_t *msg, size_t len, size_t off, char *text, size_t textlen, size_t *next);

/* Two text names equal as DNS names (case-insensitive, trailing dot optional). */
bool dns_name_equal(const char *a, const char *b);

struct dns_query {
	uint16_t id;
	const char *name;	/* text form */
	uint16_t type, qclass;
	bool recurse;		/* RD */
	uint16_t edns_udp;	/* 0: no OPT record */
};

/* The query message; its length, or -1 when the name is invalid or out is small. */
int dns_query_build(const struct dns_query *q, uint8_t *out, size_t outlen);

struct dns_rr {
	char name[DNS_NAME_TEXT];
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t rdlen;
	size_t rdoff;		/* where the rdata starts in the message */
};

struct dns_msg {
	const uint8_t *buf;
	size_t len;
	uint16_t id, flags, qdcount, count[DNS_S_COUNT];
	unsigned opcode, rcode;	/* rcode includes the EDNS extended bits */
	char qname[DNS_NAME_TEXT];	/* the first question; "" when none */
	uint16_t qtype, qclass;
	size_t section_off[DNS_S_COUNT];
	bool has_opt;
	uint16_t opt_udp, opt_flags;
	uint8_t opt_version;
};

/*
 * Parse and validate a whole message: header, questions, every record and
 * the rdata of the types this code knows. On error returns -1 and writes
 * what is wrong and where into err ("answer record 2: compression pointer
 * loop"); the message must then not be used. buf must outlive m.
 */
int dns_msg_parse(struct dns_msg *m, const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Walk the records of one section of a parsed message (OPT included). */
struct dns_iter {
	const struct dns_msg *m;
	unsigned left;
	size_t off;
};
void dns_iter_init(struct dns_iter *it, const struct dns_msg *m, enum dns_section s);
bool dns_iter_next(struct dns_iter *it, struct dns_rr *rr);

/* A buffer this large always holds dns_rdata_format's text for rr. */
size_t dns_rdata_text_max(const struct dns_rr *rr);
/*
 * The rdata in presentation form, as dig prints it ("10 mail.example.com.",
 * "\"some text\"", unknown types as RFC 3597 "\# 4 0A000001"). 0, or -1
 * with err set when the rdata is malformed or out is too small.
 */
int dns_rdata_format(const struct dns_msg *m, const struct dns_rr *rr, char *out, size_t outlen, char *err,
		     size_t errlen);

/* The first A/AAAA address in the answer section (family 4 or 16 bytes). */
int dns_msg_first_addr(const struct dns_msg *m, uint16_t type, uint8_t *addr);

/*
 * Does a parsed response answer query q (QR set, same ID, one question with
 * the same name, type and class)? When not, why in err.
 */
bool dns_msg_answers(const struct dns_msg *m, const struct dns_query *q, char *err, size_t errlen);

/* The reverse-lookup name of an address: 4.3.2.1.in-addr.arpa. / nibbles.ip6.arpa. */
int dns_reverse_name(int family, const uint8_t *addr, char *out, size_t outlen);

#endif
