#!/usr/bin/env bash
# make-captures.sh -- (re)make bench/flows/captures/softflowd-v{5,9,10}.pcap: real softflowd
# NetFlow v5 / v9 / IPFIX export datagrams describing thousands of short, distinct flows.
#
# Run by hand, as root (network namespaces, AF_PACKET); the benchmark only reads the pcaps.
#   sudo bench/flows/make-captures.sh            # all three
#   sudo bench/flows/make-captures.sh 9          # one version
#   env FLOWS_V5=2600 FLOWS_V9=... FLOWS_V10=... to change the number of conversations
#
# Needs: iproute2, softflowd (1.1.0), softflowctl, tcpdump, nfdump (nfcapd), tshark (check),
# gcc + libpcap-dev (the immediate-mode shim), python3.
#
# Topology: three network namespaces made here, no link to the host, no default route:
#
#   nfbench-cli (client) --veth-- nfbench-rtr (router, softflowd on rt0) --veth-- nfbench-col (collector)
#   cl0 198.18.1.2                rt0 198.18.1.1 | rt1 198.18.3.1           co0 198.18.3.2
#
# - gen-traffic.py (seeded) injects TCP conversations, UDP request/response and ICMP echo, both
#   directions, from many client and server addresses (IPv4 198.18.64.0/18 -> 198.19.0.0/16; for
#   v9 and IPFIX also ~30 % IPv6 fd00:a::/64 -> fd00:b::/48) with AF_PACKET frames onto cl0. The
#   router does not forward (ip_forward=0): the frames only have to be seen by softflowd on rt0.
# - softflowd runs on the router with the libpcap immediate-mode shim (the project's own test/e2e/lab/pcap_immediate.c, see
#   LAB.md: without it libpcap 1.10 on this kernel does not deliver low-rate traffic), long
#   timeouts and room for every flow, so nothing expires early; after the traffic,
#   `softflowctl expire-all` exports every flow at once, which fills the datagrams (30 records per
#   v5 datagram; as many as softflowd fits for v9/IPFIX). IPFIX uses -A milli (absolute
#   flowStart/EndMilliseconds, as in the lab's netflow_test.sh).
# - the collector namespace runs tcpdump (-w the pcap, udp dst port 2055) and nfcapd (so the
#   datagrams have a listener, and as a cross-check of the record count); tshark counts the
#   records in the pcap.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/captures
SHIM_SRC=${SHIM_SRC:-$HERE/../../test/e2e/lab/pcap_immediate.c}
PY=${PY:-/usr/bin/python3}
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 1; }
VERSIONS=${*:-"5 9 10"}
WORK=$(mktemp -d /tmp/nfbench-captures.XXXXXX)
NS_C=nfbench-cli NS_R=nfbench-rtr NS_K=nfbench-col
COLL=198.18.3.2 PORT=2055
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }

down() {
  for n in $NS_C $NS_R $NS_K; do
    for pid in $(ip netns pids "$n" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$n" 2>/dev/null || true
  done
}
cleanup() { down; rm -rf "$WORK"; }
trap cleanup EXIT

up() {
  down
  for n in $NS_C $NS_R $NS_K; do
    ip netns add "$n"
    nsx "$n" ip link set lo up
    nsx "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  done
  ip link add cl0 netns $NS_C type veth peer name rt0 netns $NS_R
  ip link add co0 netns $NS_K type veth peer name rt1 netns $NS_R
  nsx $NS_C ip addr add 198.18.1.2/24 dev cl0
  nsx $NS_R ip addr add 198.18.1.1/24 dev rt0
  nsx $NS_R ip addr add 198.18.3.1/24 dev rt1
  nsx $NS_K ip addr add 198.18.3.2/24 dev co0
  for p in "$NS_C cl0" "$NS_R rt0" "$NS_R rt1" "$NS_K co0"; do set -- $p; nsx "$1" ip link set "$2" up; done
  # the router only sniffs: no forwarding, so the injected frames go nowhere
  nsx $NS_R sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
  sleep 1
}

SHIM=$WORK/pcap_immediate.so
gcc -O2 -shared -fPIC -o "$SHIM" "$SHIM_SRC" -ldl -lpcap
mkdir -p "$OUT"
up
RT_MAC=$(nsx $NS_R cat /sys/class/net/rt0/address)

capture() {
  local ver=$1 flows=$2 six=$3
  local pcap=$OUT/softflowd-v$ver.pcap nfc=$WORK/nfcap-v$ver
  mkdir -p "$nfc"
  echo "### softflowd -v $ver: $flows conversations (IPv6 share $six)"
  timeout 120 ip netns exec $NS_K tcpdump -Z root -U -s 0 -i co0 -w "$pcap.tmp" udp dst port $PORT 2> "$WORK/tcpdump-v$ver.log" &
  local cap=$!
  timeout 120 ip netns exec $NS_K nfcapd -w "$nfc" -b $COLL -p $PORT -t 3600 -B 8388608 > "$WORK/nfcapd-v$ver.log" 2>&1 &
  local nfcd=$!
  local opts="-v $ver"
  [ "$ver" != 5 ] && opts="$opts -6"
  [ "$ver" = 10 ] && opts="$opts -A milli"
  # long timeouts and room for every flow: flows leave only with expire-all (full datagrams)
  timeout 100 ip netns exec $NS_R env LD_PRELOAD="$SHIM" softflowd -d -i rt0 -n $COLL:$PORT $opts -m 65536 -B 8388608 \
    -t maxlife=600 -t expint=600 -t tcp=600 -t tcp.fin=600 -t tcp.rst=600 -t udp=600 -t icmp=600 -t general=600 \
    -p "$WORK/sf.pid" -c "$WORK/sf.ctl" > "$WORK/softflowd-v$ver.log" 2>&1 &
  local sf=$!
  sleep 2
  timeout 60 ip netns exec $NS_C "$PY" "$HERE/gen-traffic.py" --iface cl0 --dst-mac "$RT_MAC" --flows "$flows" \
    --ipv6-share "$six" --pps 20000 --seed "$ver"
  sleep 2
  nsx $NS_R timeout 10 softflowctl -c "$WORK/sf.ctl" statistics | grep -Ei 'flows|packets|dropped|expired' | head -12 || true
  nsx $NS_R timeout 10 softflowctl -c "$WORK/sf.ctl" expire-all
  sleep 3
  kill "$sf" 2>/dev/null || true; wait "$sf" 2>/dev/null || true
  sleep 1
  kill "$cap" 2>/dev/null || true; wait "$cap" 2>/dev/null || true
  kill "$nfcd" 2>/dev/null || true; wait "$nfcd" 2>/dev/null || true
  mv "$pcap.tmp" "$pcap"
  grep -E 'packets (captured|received|dropped)' "$WORK/tcpdump-v$ver.log" || true
  local dgrams recs nf
  dgrams=$(tshark -r "$pcap" 2>/dev/null | wc -l)
  recs=$(tshark -r "$pcap" -d udp.port==$PORT,cflow -T fields -e cflow.count 2>/dev/null | awk '{s+=$1} END {print s+0}')
  nf=$(nfdump -R "$nfc" -q -o 'fmt:%pr' 2>/dev/null | wc -l)
  echo "-> $pcap: $(stat -c %s "$pcap") bytes, $dgrams datagrams, $recs records in headers (tshark cflow.count; v9 counts template records too), nfdump stored $nf flows"
}

for v in $VERSIONS; do
  case $v in
    5) capture 5 "${FLOWS_V5:-2600}" 0 ;;
    9) capture 9 "${FLOWS_V9:-2000}" 0.3 ;;
    10) capture 10 "${FLOWS_V10:-2000}" 0.3 ;;
    *) echo "unknown version $v (5, 9 or 10)" >&2; exit 2 ;;
  esac
done
