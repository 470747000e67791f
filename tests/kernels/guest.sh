#!/bin/busybox sh
# /init of the test-kernels guest (tests/kernels/matrix.py builds the
# initramfs): load the modules, make two network namespaces joined by a veth
# pair, provoke each event retina trace knows for real, and print one line
# per check on the console:
#   @@ CHECK pass|fail|unsupported DETAIL
# then power off. Every check reports; the host reads the lines.
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mkdir -p /sys/fs/cgroup /run/netns
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
exec </dev/console >/dev/console 2>&1

# busybox sh runs its own applets before PATH: iproute2's ip (netns) by name
ip() { /usr/sbin/ip "$@"; }
res() { echo "@@ $1 $2 $3"; }
# A check's evidence when it fails: the lines that were looked at.
show() { sed 's/^/   | /' "$1" | head -${2:-20}; }
A=10.0.0.1 B=10.0.0.2 A6=fd00::1 B6=fd00::2
KVER=$(uname -r)
echo "@@ kernel $KVER $(uname -m)"

# ---- modules (from the kernel's own package; see matrix.py) ----------------
out=$(modprobe -a $(cat /modules.list) 2>&1) && res modules pass "$(cat /modules.list | tr '\n' ' ')" ||
	res modules fail "$out"

# ---- namespaces -------------------------------------------------------------
ip netns add a && ip netns add b &&
ip link add va netns a type veth peer name vb netns b &&
ip -n a addr add $A/24 dev va && ip -n b addr add $B/24 dev vb &&
ip -n a addr add $A6/64 dev va nodad && ip -n b addr add $B6/64 dev vb nodad &&
ip -n a link set va up && ip -n b link set vb up && ip -n a link set lo up && ip -n b link set lo up
[ $? -eq 0 ] && res netns pass "veth va (ns a, $A $A6) <-> vb (ns b, $B $B6)" || res netns fail "ip netns/veth setup failed"
ip netns exec a sysctl -qw net.ipv4.tcp_syn_retries=1
# b drops TCP 8080 (a's SYNs retransmit, then time out)
ip netns exec b nft -f - <<'EOF' && res nft-ruleset pass "inet t: tcp dport 8080 drop" || res nft-ruleset fail "nft -f failed"
table inet t {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 8080 counter drop
	}
}
EOF

# ---- peers: ping, nc (dig below, against unbound) ------------------------------------------------------------
out=$(ip netns exec a retina ping -c 1 -W 5 $B 2>&1) && res ping-v4 pass "$(echo "$out" | sed -n 2p)" || res ping-v4 fail "$out"
out=$(ip netns exec a retina ping -6 -c 1 -W 5 $B6 2>&1) && res ping-v6 pass "$(echo "$out" | sed -n 2p)" || res ping-v6 fail "$out"
ip netns exec b sh -c 'echo hello-from-b | retina nc -l -w 20 -p 7000 >/tmp/nc.got' &
ncpid=$!
sleep 1
got=$(echo hello-from-a | ip netns exec a retina nc -w 5 $B 7000 2>&1)
wait $ncpid
[ "$got" = hello-from-b ] && grep -q hello-from-a /tmp/nc.got && res nc pass "TCP both ways a<->b:7000" ||
	res nc fail "got '$got' / '$(cat /tmp/nc.got)'"

# ---- dig against a DNS peer: unbound in b (the server tests/integration uses) ----
# Local data only: names outside peer.test are NXDOMAIN ("." static), no recursion out.
cat >/tmp/unbound.conf <<EOF
server:
  interface: $B
  interface: $B6
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "/tmp"
  pidfile: ""
  use-syslog: no
  num-threads: 1
  module-config: "iterator"
  access-control: 10.0.0.0/24 allow
  access-control: fd00::/64 allow
  local-zone: "." static
  local-zone: "peer.test." static
  local-data: "b.peer.test. 300 IN A $B"
  local-data: "b.peer.test. 300 IN AAAA $B6"
remote-control:
  control-enable: no
EOF
/usr/sbin/ip netns exec b unbound -d -c /tmp/unbound.conf >/tmp/unbound.log 2>&1 &
ubpid=$!
qdig() { ip netns exec a retina dig +tries=1 +timeout=3 "$@" 2>&1; }
for i in $(seq 60); do
	[ "$(qdig @$B b.peer.test +short)" = "$B" ] && break
	kill -0 $ubpid 2>/dev/null || break
	sleep 0.5
done
out=$(qdig @$B b.peer.test +short) && [ "$out" = "$B" ] && res dig-v4 pass "@$B b.peer.test A: $out" ||
	{ res dig-v4 fail "@$B b.peer.test +short: '$out'"; show /tmp/unbound.log 10; }
out=$(qdig @$B6 -t AAAA b.peer.test +short) && [ "$out" = "$B6" ] && res dig-v6 pass "@$B6 b.peer.test AAAA: $out" ||
	res dig-v6 fail "@$B6 -t AAAA b.peer.test +short: '$out'"
out=$(qdig @$B +tcp b.peer.test +short) && [ "$out" = "$B" ] && res dig-tcp pass "@$B +tcp b.peer.test A: $out" ||
	res dig-tcp fail "@$B +tcp b.peer.test +short: '$out'"
# an unknown name: the server's rcode, exit 0 (an answer arrived), no answer section
out=$(qdig @$B nosuch.peer.test) && echo "$out" | grep -q 'status: NXDOMAIN' && ! echo "$out" | grep -q 'ANSWER SECTION' &&
	res dig-nxdomain pass "@$B nosuch.peer.test: $(echo "$out" | grep -o 'status: NXDOMAIN[^,]*'), no answer" ||
	res dig-nxdomain fail "$(echo "$out" | head -8 | tr '\n' ' ')"
kill $ubpid 2>/dev/null
wait $ubpid

# ---- capcheck ---------------------------------------------------------------------
retina capcheck -o json trace trace-stack trace-nft execsnoop traceloop >/tmp/cap.json 2>/tmp/cap.err
caprc=$?
verdict() { tr '{' '\n' </tmp/cap.json | grep "\"tool\":\"$1\"" | grep -o '"ok":[a-z]*' | cut -d: -f2; }

# ---- retina trace: everything, with --stack and -w; and a filtered one ----------
start_trace() { # name args...: started in the background; waits until attached
	local n=$1
	shift
	"$@" >/tmp/$n.json 2>/tmp/$n.err &
	eval "${n}_pid=$!"
	for i in $(seq 240); do
		grep -q 'attached' /tmp/$n.err && break
		kill -0 $(eval echo \$${n}_pid) 2>/dev/null || break
		sleep 0.5
	done
}
stop_trace() { kill -TERM $(eval echo \$${1}_pid) 2>/dev/null; wait $(eval echo \$${1}_pid); }

start_trace all retina trace --all --all-reasons --stack -w /tmp/all.pcapng -o json
start_trace filt retina trace --all --ip $B6 --port 9 -o json
start_trace table retina trace --drops --port 9
# --count: the kernel's counting path (its own code in the drop program) must load here too
start_trace count retina trace --count -o json --interval 1s
# --reason: a kernel without reasons must refuse, naming 5.17
if retina trace --list-reasons >/tmp/lr.out 2>&1; then
	has_reasons=1
	start_trace reason retina trace --drops --reason NO_SOCKET -o json
else
	has_reasons=
	retina trace --drops --reason NO_SOCKET -d 1 >/tmp/reason.json 2>/tmp/reason.err
	echo $? >/tmp/reason.rc
fi
/usr/sbin/ip netns exec b retina trace --drops --nft --allow-system-changes -o json >/tmp/nft.json 2>/tmp/nft.err &
nft_pid=$!
for i in $(seq 240); do grep -q 'attached' /tmp/nft.err && break; kill -0 $nft_pid 2>/dev/null || break; sleep 0.5; done

attached=$(sed -n 's/.*attached \([A-Z_,]*\).*/\1/p' /tmp/all.err)
[ -n "$attached" ] && res trace-attach pass "$attached; $(grep -iv 'attached\|^$' /tmp/all.err | head -3 | tr '\n' ' ')" ||
	{ res trace-attach fail "$(head -3 /tmp/all.err | tr '\n' ' ')"; }

# closed port 9: RST_SENT (b), RST_RECV and SOCK_ERR ECONNREFUSED (a), DROP (b: no socket)
ip netns exec a retina nc -z -w 3 $B 9 >/dev/null 2>/tmp/nc-v4-9.err
ip netns exec a retina nc -6 -z -w 3 $B6 9 >/dev/null 2>/tmp/nc-v6-9.err
# an active reset (RST_SENT on every kernel): b's server closes with a's data unread
/usr/sbin/ip netns exec b busybox nc -l -p 7001 -e sleep 2 &
sleep 1
(echo unread; sleep 4) | ip netns exec a retina nc -w 3 $B 7001 >/dev/null 2>/tmp/nc-v4-7001.err
/usr/sbin/ip netns exec b busybox nc -l -p 7001 -e sleep 2 &
sleep 1
(echo unread; sleep 4) | ip netns exec a retina nc -w 3 $B6 7001 >/dev/null 2>/tmp/nc-v6-7001.err
# 8080 dropped by nft: SYN retransmits (RETRANS), then ETIMEDOUT (SOCK_ERR), NETFILTER_DROP
ip netns exec a retina nc -z -w 20 $B 8080 >/dev/null 2>/tmp/nc-v4-8080.err
ip netns exec a retina nc -6 -z -w 20 $B6 8080 >/dev/null 2>/tmp/nc-v6-8080.err
sleep 1
stop_trace all
stop_trace filt
stop_trace table
stop_trace count
[ -n "$has_reasons" ] && stop_trace reason
kill -TERM $nft_pid 2>/dev/null; wait $nft_pid

# has TYPE FAMILY-ADDR PORT [extra grep]: an event line of the full trace
ev() { grep "\"type\":\"$1\"" /tmp/all.json | grep "\"$2\"" | grep "$3" | grep "${4:-.}" | head -1; }
check_ev() { # name type addr portpattern needs-attach [extra]
	local n=$1 t=$2 line
	case ",$attached," in
	*",$t,"*) ;;
	*) res $n unsupported "$t not attached on this kernel: $(grep -i "$t\|$(echo $t | tr A-Z a-z)" /tmp/all.err | head -1)"; return ;;
	esac
	line=$(ev $t "$3" "$4" "$5")
	[ -n "$line" ] && res $n pass "$(echo "$line" | grep -o '"reason":"[^"]*"\|"location":"[^"]*"' | tr '\n' ' ')" ||
		{ evidence "$3" "$4"; res $n fail "no $t event for $3 $4 $5; $(cat /tmp/evidence)"; }
}
# Why an event check failed, in its result line (matrix.py prints it) and in
# full on the console: what trace saw of that flow (type reason ports, no
# stacks), trace's exit summary (events lost to a full ring?), and what the
# connecting process itself was told (nc's words, e.g. "TIMEOUT.").
evidence() { # addr portpattern
	local p=$(echo "$2" | tr -dc 0-9)
	grep "\"$1\"" /tmp/all.json | grep "$2" | sed 's/.*"type":"\([A-Z_]*\)".*"reason":"\([^"]*\)".*"src_port":\([0-9]*\).*"dst_port":\([0-9]*\).*/\1 \2 \3->\4/' |
		cut -c1-160 >/tmp/flow.txt
	echo "trace saw of that flow: $(head -8 /tmp/flow.txt | tr '\n' ',' | sed 's/,$//');" \
		"trace's summary: $(grep 'lost (ring' /tmp/all.err);" \
		"nc was told: $(head -2 /tmp/nc-$fam-$p.err 2>/dev/null | tr '\n' ' ')" >/tmp/evidence
	show /tmp/flow.txt 20
	grep -A8 'lost (ring' /tmp/all.err >/tmp/summary.txt; show /tmp/summary.txt 10
}
for fam in v4 v6; do
	if [ $fam = v4 ]; then b=$B; else b=$B6; fi
	check_ev rst-sent-$fam RST_SENT "$b" '"src_port":7001,'
	# the RST answering a segment no socket wants: only newer kernels fire the tracepoint there
	if [ -z "$(ev RST_SENT "$b" '"src_port":9,')" ] && [ -n "$(ev RST_SENT "$b" '"src_port":7001,')" ]; then
		res rst-sent-nosocket-$fam unsupported "this kernel fires tcp:tcp_send_reset for resets from a socket only, not for the RST answering a segment no socket wants (DROP NO_SOCKET shows those)"
	else
		check_ev rst-sent-nosocket-$fam RST_SENT "$b" '"src_port":9,'
	fi
	check_ev rst-recv-$fam RST_RECV "$b" '"dst_port":9,'
	check_ev sockerr-refused-$fam SOCK_ERR "$b" '"dst_port":9,' ECONNREFUSED
	check_ev drop-noport-$fam DROP "$b" '"dst_port":9,'
	check_ev drop-nft-$fam DROP "$b" '"dst_port":8080,'
	check_ev retrans-$fam RETRANS "$b" '"dst_port":8080,'
	check_ev sockerr-timeout-$fam SOCK_ERR "$b" '"dst_port":8080,' ETIMEDOUT
done

# where each packet died: kfree_skb's caller, on every kernel (the reason column before 5.17)
for fam in v4 v6; do
	if [ $fam = v4 ]; then b=$B; f=tcp_v4_rcv; else b=$B6; f=tcp_v6_rcv; fi
	line=$(ev DROP "$b" '"dst_port":9,')
	echo "$line" | grep -q "\"location\":\"$f+0x[0-9a-f]*\"" &&
		res drop-location-noport-$fam pass "$(echo "$line" | grep -o '"location":"[^"]*"')" ||
		res drop-location-noport-$fam fail "no location $f+0x.. in: $(echo "$line" | head -c 300)"
done
line=$(ev DROP "$B" '"dst_port":8080,')
echo "$line" | grep -q '"location":"\(nf_hook_slow\|nft_do_chain\)+0x' &&
	res drop-location-nft pass "$(echo "$line" | grep -o '"location":"[^"]*"')" ||
	res drop-location-nft fail "no netfilter location in: $(echo "$line" | head -c 300)"
# the table: REASON is the reason, or before 5.17 the location
row=$(grep ':9 *$' /tmp/table.json | grep DROP | head -1)
if echo "$row" | grep -q 'NO_SOCKET\|tcp_v[46]_rcv+0x'; then
	res trace-table-reason pass "$(echo "$row" | tr -s ' ' | cut -c1-120)"
else
	res trace-table-reason fail "no DROP row naming NO_SOCKET or tcp_v4_rcv: $(head -c 300 /tmp/table.json)"
fi
# what kfree_skb counted during the run, by location (docs/kernels.md)
echo "@@ drop-locations: $(grep '"type":"DROP"' /tmp/all.json | grep -o '"location":"[^+"]*' | cut -d'"' -f4 | sort | uniq -c | sort -rn | awk '{printf "%s %s, ", $2, $1}')"

# --list-reasons and --reason: names from this kernel, or a refusal naming 5.17
if [ -n "$has_reasons" ]; then
	grep -q '=NO_SOCKET$' /tmp/lr.out && res trace-list-reasons pass "$(wc -l </tmp/lr.out) reasons, NO_SOCKET among them" ||
		res trace-list-reasons fail "no NO_SOCKET in: $(head -c 200 /tmp/lr.out)"
	if grep -q '"reason":"NO_SOCKET"' /tmp/reason.json && ! grep -v '"reason":"NO_SOCKET"' /tmp/reason.json | grep -q DROP; then
		res trace-reason-filter pass "--reason NO_SOCKET: $(wc -l </tmp/reason.json) DROPs, all NO_SOCKET"
	else
		res trace-reason-filter fail "--reason NO_SOCKET kept: $(head -c 300 /tmp/reason.json)"
	fi
else
	grep -q '5.17' /tmp/lr.out && res trace-list-reasons unsupported "$(head -1 /tmp/lr.out)" ||
		res trace-list-reasons fail "--list-reasons failed without naming 5.17: $(head -c 200 /tmp/lr.out)"
	[ "$(cat /tmp/reason.rc)" = 2 ] && grep -q '5.17' /tmp/reason.err &&
		res trace-reason-filter unsupported "$(head -1 /tmp/reason.err)" ||
		res trace-reason-filter fail "exit $(cat /tmp/reason.rc): $(head -c 200 /tmp/reason.err)"
fi

# --count: the totals line counts the drops of the closed port 9 under a DROP key
line=$(grep '"final":true' /tmp/count.json | head -1)
echo "$line" | grep -q '"type":"DROP"[^}]*"dport":9,"count":[1-9]' &&
	res trace-count pass "$(echo "$line" | grep -o '"type":"DROP"[^}]*"dport":9,"count":[0-9]*' | head -1 | cut -c1-110)" ||
	{ res trace-count fail "no DROP key for port 9 in the totals: $(head -c 300 /tmp/count.json)"; show /tmp/count.err 5; }
# --stack: DROP events carry symbolised frames
line=$(grep '"type":"DROP"' /tmp/all.json | grep '"stack":\["[a-z_]' | head -1)
[ -n "$line" ] && res trace-stack pass "$(echo "$line" | grep -o '"stack":\["[^"]*","[^"]*"')" ||
	{ res trace-stack fail "no DROP with a symbolised stack"; show /tmp/all.err 5; }
# -w: a pcapng with packets (each packet block starts with type 6)
n=$(sed -n "s/^ *\([0-9]*\) packets written.*/\1/p" /tmp/all.err | head -1)
sz=$(stat -c %s /tmp/all.pcapng 2>/dev/null || echo 0)
[ "${n:-0}" -gt 0 ] && [ "$sz" -gt 100 ] && res trace-pcapng pass "$n packets, $sz bytes" ||
	{ res trace-pcapng fail "pcapng: ${n:-?} packets, $sz bytes"; show /tmp/all.err 5; }
# in-kernel filters: only fd00::2 and port 9 (both must match)
if [ -s /tmp/filt.json ] && ! grep -q '10\.0\.0\.\|"dst_port":8080\|"src_port":8080' /tmp/filt.json &&
	grep -q "\"$B6\"" /tmp/filt.json; then
	res trace-filter pass "--ip $B6 --port 9: $(wc -l </tmp/filt.json) events, none other"
else
	res trace-filter fail "--ip $B6 --port 9 kept: $(head -c 300 /tmp/filt.json)"; show /tmp/filt.err 5
fi
# --nft: the rule that dropped 8080
line=$(grep '"dst_port":8080' /tmp/nft.json | grep '"nft":{[^}]*"table":"t"' | head -1)
if [ -n "$line" ]; then
	res trace-nft pass "$(echo "$line" | grep -o '"nft":{[^}]*}' | head -c 160)"
elif grep -q 'kernel\|not supported\|needs' /tmp/nft.err && ! grep -q attached /tmp/nft.err; then
	res trace-nft unsupported "$(grep -m1 -- '--nft' /tmp/nft.err)"
else
	res trace-nft fail "no DROP naming table t"; show /tmp/nft.err 5; show /tmp/nft.json 3
fi

# capcheck's verdicts against what happened
tv=$(verdict trace)
if [ -z "$tv" ]; then
	res capcheck fail "rc=$caprc, no verdict for trace: $(head -c 200 /tmp/cap.err)"
elif { [ "$tv" = true ] && [ -n "$attached" ]; } || { [ "$tv" = false ] && [ -z "$attached" ]; }; then
	res capcheck pass "trace ok=$tv, trace-stack ok=$(verdict trace-stack), trace-nft ok=$(verdict trace-nft), execsnoop ok=$(verdict execsnoop), traceloop ok=$(verdict traceloop)"
else
	res capcheck fail "capcheck says trace ok=$tv, trace attached '$attached'"
fi

# ---- execsnoop --------------------------------------------------------------
retina execsnoop -o json >/tmp/exec.json 2>/tmp/exec.err &
epid=$!
for i in $(seq 240); do [ -s /tmp/exec.err ] && break; kill -0 $epid 2>/dev/null || break; sleep 0.5; done
/bin/true retina-execsnoop-marker
sleep 1
kill -TERM $epid 2>/dev/null; wait $epid
grep -q retina-execsnoop-marker /tmp/exec.json && res execsnoop pass "$(grep -m1 retina-execsnoop-marker /tmp/exec.json | head -c 120)" ||
	{ res execsnoop fail "marker exec not seen"; show /tmp/exec.err 5; }

# ---- traceloop: record a cgroup, run a process there, show it after it exits ----
mkdir -p /sys/fs/cgroup/tl
if retina traceloop record --cgroup /sys/fs/cgroup/tl >/tmp/tl.out 2>&1; then
	sh -c 'echo $$ >/sys/fs/cgroup/tl/cgroup.procs; exec cat /proc/version' >/dev/null
	sleep 1
	retina traceloop list >/tmp/tl.list 2>&1
	id=$(awk 'NR>1 && NF {print $1; exit}' /tmp/tl.list)
	retina traceloop show "${id:-0}" >/tmp/tl.show 2>&1
	grep -q '/proc/version' /tmp/tl.show && [ "$(verdict traceloop)" = true ] &&
		res traceloop pass "show $id: openat /proc/version recorded; capcheck agrees" ||
		{ res traceloop fail "no openat /proc/version in show ${id:-?}"; show /tmp/tl.list 5; show /tmp/tl.show 10; }
	retina traceloop stop >/dev/null 2>&1
elif grep -q 'predates' /tmp/tl.out && [ "$(verdict traceloop)" = false ]; then
	res traceloop unsupported "$(grep -m1 predates /tmp/tl.out); capcheck agrees"
else
	res traceloop fail "$(head -2 /tmp/tl.out | tr '\n' ' ')"
	timeout 15 retina traceloop record -v --foreground --cgroup /sys/fs/cgroup/tl 2>&1 | tail -25 | sed 's/^/   | /'
fi

# ---- nsenter into b ------------------------------------------------------------
/usr/sbin/ip netns exec b sleep 60 &
spid=$!
# a loaded host can take seconds to run ip netns exec in the guest: wait up to 30 s
for i in $(seq 120); do [ "$(readlink /proc/$spid/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.25; done
out=$(retina nsenter -t $spid -n -- ip -o addr show vb 2>&1)
kill $spid 2>/dev/null
echo "$out" | grep -q "$B/24" && res nsenter pass "-n into ns b: vb has $B" || res nsenter fail "$out"

echo "@@ done"
sync
poweroff -f
