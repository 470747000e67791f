/*
 * Unit tests for retina trace's forensics: kallsyms parsing and stack
 * symbolisation (--stack), and the pcapng blocks of -w, checked field by field
 * and over many sizes (block lengths at both ends, padding, too-small buffers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "applets/trace/trace.h"
#include "net/pcapng.h"

static const char kallsyms[] =
	"ffffffff81000000 T _stext\n"
	"ffffffff81100000 t tcp_v4_rcv\n"
	"ffffffff81100800 T ip_local_deliver_finish\n"
	"ffffffff81200000 D some_data\n"
	"ffffffff81300000 T __bpf_trace_kfree_skb\n"
	"ffffffff81300100 T bpf_trace_run3\n"
	"ffffffff81400000 t nft_do_chain\t[nf_tables]\n"
	"ffffffff81050000 T sk_skb_reason_drop\n"
	"ffffffff81060000 T bad\"name\n"
	"garbage line\n";

static void load(struct ksyms *k, const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	assert_non_null(f);
	assert_int_equal(ksyms_load(k, f), 0);
	fclose(f);
}

static void kallsyms_text_symbols_sorted_and_found(void **state)
{
	struct ksyms k;
	uint64_t off;
	char buf[128];

	(void)state;
	load(&k, kallsyms);
	assert_int_equal(k.nread, 9);
	assert_false(k.hidden);
	assert_int_equal(k.n, 7);	/* no data symbol, no name with a quote */
	for (size_t i = 1; i < k.n; i++)
		assert_true(k.v[i - 1].addr <= k.v[i].addr);
	assert_string_equal(ksyms_find(&k, 0xffffffff81100091ull, &off), "tcp_v4_rcv");
	assert_int_equal(off, 0x91);
	assert_string_equal(ksyms_frame(&k, 0xffffffff81050090ull, buf, sizeof(buf)), "sk_skb_reason_drop+0x90");
	assert_string_equal(ksyms_frame(&k, 0xffffffff81400010ull, buf, sizeof(buf)), "nft_do_chain+0x10 [nf_tables]");
	/* below the first symbol, or far past the last: raw */
	assert_string_equal(ksyms_frame(&k, 0x1000, buf, sizeof(buf)), "0x1000");
	assert_string_equal(ksyms_frame(&k, 0xffffffffa0000000ull, buf, sizeof(buf)), "0xffffffffa0000000");
	assert_string_equal(ksyms_frame(NULL, 0xffffffff81100000ull, buf, sizeof(buf)), "0xffffffff81100000");
	ksyms_free(&k);
}

static void kallsyms_with_zero_addresses_is_hidden(void **state)
{
	struct ksyms k;

	(void)state;
	load(&k, "0000000000000000 T _stext\n0000000000000000 t tcp_v4_rcv\n");
	assert_true(k.hidden);
	assert_int_equal(k.n, 0);
	ksyms_free(&k);
	load(&k, "");
	assert_false(k.hidden);
	ksyms_free(&k);
}

/* Two tracer frames (__bpf_trace_kfree_skb, bpf_trace_run3), then the drop's own. */
static const uint64_t frames[] = { 0xffffffff81300010ull, 0xffffffff81300110ull, 0xffffffff81050090ull,
				   0xffffffff81100091ull, 0xffffffff81100810ull };

static struct stack_cache *new_cache(struct ksyms *k)
{
	struct stack_cache *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	load(k, kallsyms);
	c->ksyms = k;
	return c;
}

static void stacks_drop_tracer_frames_and_are_cached(void **state)
{
	struct ksyms k;
	struct stack_cache *c = new_cache(&k);

	(void)state;
	const struct stack_entry *e = stack_cache_get(c, frames, 5);
	assert_non_null(e);
	assert_string_equal(e->text, "\n    sk_skb_reason_drop+0x90\n    tcp_v4_rcv+0x91\n    ip_local_deliver_finish+0x10");
	assert_string_equal(e->json, "[\"sk_skb_reason_drop+0x90\",\"tcp_v4_rcv+0x91\",\"ip_local_deliver_finish+0x10\"]");
	assert_int_equal(e->shown, 3);
	assert_ptr_equal(stack_cache_get(c, frames, 5), e);
	assert_int_equal(c->hits, 1);
	assert_int_equal(c->misses, 1);
	/* a prefix of it is another stack */
	assert_ptr_not_equal(stack_cache_get(c, frames, 4), e);
	/* only tracer frames: shown rather than nothing; none at all: empty */
	e = stack_cache_get(c, frames, 2);
	assert_int_equal(e->shown, 2);
	e = stack_cache_get(c, frames, 0);
	assert_string_equal(e->text, "");
	assert_string_equal(e->json, "[]");
	/* many distinct stacks: memory stays bounded (the table starts over) */
	for (uint64_t i = 0; i < 3 * STACK_CACHE_SLOTS; i++) {
		uint64_t f[2] = { 0xffffffff81100000ull + i, 0xffffffff81050000ull };
		assert_non_null(stack_cache_get(c, f, 2));
		assert_true(c->used <= STACK_CACHE_SLOTS * 3 / 4);
	}
	stack_cache_free(c);
	free(c);
	ksyms_free(&k);
}

/* A stack that fills --stack-depth says so under its frames; a shorter one does not. */
static void stacks_that_reach_the_depth_are_said_cut(void **state)
{
	struct ksyms k;
	struct stack_cache *c = new_cache(&k);

	(void)state;
	c->depth = 5;
	const struct stack_entry *e = stack_cache_get(c, frames, 5);
	assert_true(e->cut);
	assert_string_equal(e->text, "\n    sk_skb_reason_drop+0x90\n    tcp_v4_rcv+0x91\n    ip_local_deliver_finish+0x10"
				     "\n    ... (--stack-depth 5: the walk stopped there)");
	/* the frames alone in JSON (the tracer adds "stack_cut") */
	assert_string_equal(e->json, "[\"sk_skb_reason_drop+0x90\",\"tcp_v4_rcv+0x91\",\"ip_local_deliver_finish+0x10\"]");
	e = stack_cache_get(c, frames, 4);
	assert_false(e->cut);
	assert_null(strstr(e->text, "..."));
	stack_cache_free(c);
	free(c);
	ksyms_free(&k);
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/*
 * Walk a block's options from off to its trailer: each padded to 4 with
 * zeros, ending with opt_endofopt exactly at the trailer. Returns the value
 * of option code want (NUL-terminated into out), or NULL.
 */
static const char *check_options(const uint8_t *b, size_t off, size_t total, uint16_t want, char *out, size_t len)
{
	const char *found = NULL;

	for (;;) {
		assert_true(off + 4 <= total - 4);
		uint16_t code = rd16(b + off), n = rd16(b + off + 2);
		off += 4;
		if (code == 0) {
			assert_int_equal(n, 0);
			assert_int_equal(off, total - 4);
			return found;
		}
		assert_true(off + n <= total - 4);
		if (code == want && n < len) {
			memcpy(out, b + off, n);
			out[n] = '\0';
			found = out;
		}
		for (size_t pad = off + n; pad % 4; pad++)
			assert_int_equal(b[pad], 0);
		off += (n + 3) & ~3u;
	}
}

static void pcapng_header_blocks(void **state)
{
	uint8_t b[256];
	char v[64];

	(void)state;
	size_t n = pcapng_shb(b, sizeof(b), "retina trace");
	assert_int_equal(n, 28 + 4 + 12 + 4);
	assert_int_equal(rd32(b), PCAPNG_SHB);
	assert_int_equal(rd32(b + 4), n);
	assert_int_equal(rd32(b + n - 4), n);
	assert_int_equal(rd32(b + 8), 0x1A2B3C4D);
	assert_int_equal(rd16(b + 12), 1);
	assert_string_equal(check_options(b, 24, n, 4, v, sizeof(v)), "retina trace");
	assert_int_equal(pcapng_shb(b, n - 1, "retina trace"), 0);

	n = pcapng_idb(b, sizeof(b), PCAPNG_LINKTYPE_RAW, 256, "dropped");
	assert_int_equal(n % 4, 0);
	assert_int_equal(rd32(b), PCAPNG_IDB);
	assert_int_equal(rd32(b + 4), n);
	assert_int_equal(rd32(b + n - 4), n);
	assert_int_equal(rd16(b + 8), 101);
	assert_int_equal(rd32(b + 12), 256);
	assert_string_equal(check_options(b, 16, n, 2, v, sizeof(v)), "dropped");
	assert_int_equal(check_options(b, 16, n, 9, v, sizeof(v))[0], 9);	/* nanoseconds */
}

/* Every packet and comment length, into buffers of every size around the block's: exact or nothing. */
static void pcapng_packets_of_every_size(void **state)
{
	uint8_t pkt[300];
	char comment[80], got[128];

	(void)state;
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = 0xa0 + i;
	srand(7);
	for (uint32_t cap = 0; cap < 300; cap += 1 + rand() % 5) {
		size_t clen = rand() % 70;
		memset(comment, 'c', clen);
		comment[clen] = '\0';
		size_t want = 28 + ((cap + 3) & ~3u) + (clen ? 4 + ((clen + 3) & ~3u) + 4 : 0) + 4;
		for (size_t len = want - 6; len <= want + 2; len++) {
			/* exactly len bytes on the heap: ASan catches a write past it */
			uint8_t *b = malloc(len);
			size_t n = pcapng_epb(b, len, 0, 0x123456789abcdef0ull, pkt, cap, cap + 1000, comment);
			if (len < want) {
				assert_int_equal(n, 0);
				free(b);
				continue;
			}
			assert_int_equal(n, want);
			assert_int_equal(rd32(b), PCAPNG_EPB);
			assert_int_equal(rd32(b + 4), n);
			assert_int_equal(rd32(b + n - 4), n);
			assert_int_equal(rd32(b + 12), 0x12345678);
			assert_int_equal(rd32(b + 16), 0x9abcdef0);
			assert_int_equal(rd32(b + 20), cap);
			assert_int_equal(rd32(b + 24), cap + 1000);
			assert_memory_equal(b + 28, pkt, cap);
			for (size_t p = 28 + cap; p % 4; p++)
				assert_int_equal(b[p], 0);
			if (clen)
				assert_string_equal(check_options(b, 28 + ((cap + 3) & ~3u), n, 1, got, sizeof(got)),
						    comment);
			else
				assert_int_equal(n, 32 + ((cap + 3) & ~3u));
			free(b);
		}
	}
}

static void pcap_comment_names_the_event(void **state)
{
	struct reason_table drop = { 0 };
	struct trace_names nm = { &drop, &drop, NULL };
	struct trace_event e = { .type = TT_DROP, .reason = 3, .netns = 4026531840u };
	char buf[200];

	(void)state;
	reason_add(&drop, "skb_drop_reason", "SKB_DROP_REASON_NO_SOCKET", 3);
	memcpy(e.ifname, "veth\x01x y", 8);
	assert_string_equal(format_pcap_comment(&nm, &e, buf, sizeof(buf)),
			    "type=DROP reason=NO_SOCKET probe=kfree_skb netns=4026531840 ifname=veth?x?y");
	e.netns = 0;
	e.ifname[0] = '\0';
	assert_string_equal(format_pcap_comment(&nm, &e, buf, sizeof(buf)),
			    "type=DROP reason=NO_SOCKET probe=kfree_skb");
	assert_string_equal(format_pcap_comment(&nm, &e, buf, 10), "type=DROP");
	reason_free(&drop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kallsyms_text_symbols_sorted_and_found),
		cmocka_unit_test(kallsyms_with_zero_addresses_is_hidden),
		cmocka_unit_test(stacks_drop_tracer_frames_and_are_cached),
		cmocka_unit_test(stacks_that_reach_the_depth_are_said_cut),
		cmocka_unit_test(pcapng_header_blocks),
		cmocka_unit_test(pcapng_packets_of_every_size),
		cmocka_unit_test(pcap_comment_names_the_event),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
