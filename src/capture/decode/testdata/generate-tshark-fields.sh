#!/bin/sh
# Regenerates tshark-fields.tsv: TShark's decode of every packet of the shared pcaps
# (../shared/data/**/*.pcap, read by the tests through SHARED_DIR), of ../../pcap/testdata/* and of
# goflow2-sampled-headers.pcap here.
# Needs tshark (Debian: apt-get install tshark). First occurrence of each field only, so the
# sFlow/NetFlow payload's own dissection (inner ip.src of sampled headers) does not leak in.
set -eu
cd "$(dirname "$0")"
SHARED="$(cd ../../../.. && pwd)/../shared/data"
FIELDS="frame.number frame.time_epoch frame.cap_len frame.len sll.pkttype sll.ifindex vlan.id ip.src ip.dst ip.ttl ip.len ip.proto ip.frag_offset ipv6.src ipv6.dst ipv6.hlim ipv6.plen ipv6.nxt tcp.srcport tcp.dstport tcp.flags tcp.seq_raw tcp.ack_raw tcp.hdr_len tcp.len udp.srcport udp.dstport udp.length"
{
  printf 'file'; for f in $FIELDS; do printf '\t%s' "$f"; done; printf '\n'
  for path in $(cd "$SHARED" && find . -name '*.pcap' | sort) ; do
    args=""; for f in $FIELDS; do args="$args -e $f"; done
    tshark -r "$SHARED/$path" -T fields -E occurrence=f $args 2>/dev/null | sed "s|^|shared:${path#./}\t|"
  done
  for path in $(cd ../../pcap/testdata && ls *.pcap *.pcapng | sort); do
    args=""; for f in $FIELDS; do args="$args -e $f"; done
    tshark -r "../../pcap/testdata/$path" -T fields -E occurrence=f $args 2>/dev/null | sed "s|^|testdata:${path}\t|"
  done
  for path in goflow2-sampled-headers.pcap; do
    args=""; for f in $FIELDS; do args="$args -e $f"; done
    tshark -r "$path" -T fields -E occurrence=f $args 2>/dev/null | sed "s|^|decode:${path}\t|"
  done
} > tshark-fields.tsv
