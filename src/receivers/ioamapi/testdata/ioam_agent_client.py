"""A stand-in for the IOAM agents' reporting, for the ioam_api receiver's tests.

It builds IOAMTrace messages the way Advanced-Observability/ioam-agent-python (ioam-agent.py,
netlink version) does from an IOAM6 netlink event: the trace type is the event's 32-bit type
word >> 8, each node is parsed from the trace data by its trace type bits (with the Opaque State
Snapshot after the node), and the nodes are reversed into path order (nodes.insert(0, node)).
With --bitfield high it sets BitField = trace type << 8 as the Go agent (ioam-agent) does, and
with --proto clt it fills the CLT revision's TraceId_High / TraceId_Low / SpanId as the Go agent
does. The messages are encoded by Google's protobuf runtime and sent with grpcio, from modules
compiled from proto/ioam_api/ with grpc_tools.protoc (the agents' own build step).

Not the agents themselves: no capture, no netlink; the parsing below is a re-implementation with
struct in place of bitstruct. See README.md next to this file.

Input (stdin): a JSON list of events {namespace, nodelen, trace_type, data (hex), trace_id_high,
trace_id_low, span_id (decimal strings)}. Output (stdout): one JSON line per call: {"code": "OK" | status name,
"details": str}.
"""

import argparse
import importlib
import json
import struct
import sys

import grpc

TRACE_TYPE_BIT0_MASK = 1 << 23  # Hop_Lim + Node Id (short)
TRACE_TYPE_BIT1_MASK = 1 << 22  # Ingress/Egress Ids (short)
TRACE_TYPE_BIT2_MASK = 1 << 21  # Timestamp seconds
TRACE_TYPE_BIT3_MASK = 1 << 20  # Timestamp fraction
TRACE_TYPE_BIT4_MASK = 1 << 19  # Transit Delay
TRACE_TYPE_BIT5_MASK = 1 << 18  # Namespace Data (short)
TRACE_TYPE_BIT6_MASK = 1 << 17  # Queue depth
TRACE_TYPE_BIT7_MASK = 1 << 16  # Checksum Complement
TRACE_TYPE_BIT8_MASK = 1 << 15  # Hop_Lim + Node Id (wide)
TRACE_TYPE_BIT9_MASK = 1 << 14  # Ingress/Egress Ids (wide)
TRACE_TYPE_BIT10_MASK = 1 << 13  # Namespace Data (wide)
TRACE_TYPE_BIT11_MASK = 1 << 12  # Buffer Occupancy
TRACE_TYPE_BIT22_MASK = 1 << 1  # Opaque State Snapshot


def u32(p, i):
    return struct.unpack('>I', p[i:i + 4])[0]


def parse_trace_node(pb2, p, ttype):
    node = pb2.IOAMNode()
    i = 0
    if ttype & TRACE_TYPE_BIT0_MASK:
        node.HopLimit, node.Id = p[i], u32(p, i) & 0xFFFFFF
        i += 4
    if ttype & TRACE_TYPE_BIT1_MASK:
        node.IngressId, node.EgressId = struct.unpack('>HH', p[i:i + 4])
        i += 4
    if ttype & TRACE_TYPE_BIT2_MASK:
        node.TimestampSecs = u32(p, i)
        i += 4
    if ttype & TRACE_TYPE_BIT3_MASK:
        node.TimestampFrac = u32(p, i)
        i += 4
    if ttype & TRACE_TYPE_BIT4_MASK:
        node.TransitDelay = u32(p, i)
        i += 4
    if ttype & TRACE_TYPE_BIT5_MASK:
        node.NamespaceData = bytes(p[i:i + 4])
        i += 4
    if ttype & TRACE_TYPE_BIT6_MASK:
        node.QueueDepth = u32(p, i)
        i += 4
    if ttype & TRACE_TYPE_BIT7_MASK:
        node.CsumComp = u32(p, i)
        i += 4
    if ttype & TRACE_TYPE_BIT8_MASK:
        node.HopLimit, node.IdWide = p[i], struct.unpack('>Q', p[i:i + 8])[0] & 0xFFFFFFFFFFFFFF
        i += 8
    if ttype & TRACE_TYPE_BIT9_MASK:
        node.IngressIdWide, node.EgressIdWide = struct.unpack('>II', p[i:i + 8])
        i += 8
    if ttype & TRACE_TYPE_BIT10_MASK:
        node.NamespaceDataWide = bytes(p[i:i + 8])
        i += 8
    if ttype & TRACE_TYPE_BIT11_MASK:
        node.BufferOccupancy = u32(p, i)
        i += 4
    return node


def parse_ioam_trace(pb2, event, bitfield, clt):
    ttype = event['trace_type']
    node_len = event['nodelen']
    tdata = bytes.fromhex(event['data'])
    nodes = []
    i = 0
    while i < len(tdata):
        node = parse_trace_node(pb2, tdata[i:i + node_len * 4], ttype)
        i += node_len * 4
        if ttype & TRACE_TYPE_BIT22_MASK:
            oss_len = tdata[i]
            node.OSS.SchemaId = u32(tdata, i) & 0xFFFFFF
            if oss_len > 0:
                node.OSS.Data = tdata[i + 4:i + 4 + oss_len * 4]
            i += 4 + oss_len * 4
        nodes.insert(0, node)
    trace = pb2.IOAMTrace()
    trace.BitField = ttype << 8 if bitfield == 'high' else ttype
    trace.NamespaceId = event['namespace']
    trace.Nodes.extend(nodes)
    if clt:
        trace.TraceId_High = int(event.get('trace_id_high', '0'))
        trace.TraceId_Low = int(event.get('trace_id_low', '0'))
        trace.SpanId = int(event.get('span_id', '0'))
    return trace


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--target', required=True)
    ap.add_argument('--modules', required=True, help='folder with the compiled *_pb2 modules')
    ap.add_argument('--proto', choices=['standard', 'clt'], default='standard')
    ap.add_argument('--bitfield', choices=['low', 'high'], default='low')
    ap.add_argument('--mode', choices=['stream', 'unary'], default='stream')
    ap.add_argument('--ca', help='PEM file to trust: TLS')
    ap.add_argument('--token', help='bearer token')
    args = ap.parse_args()

    sys.path.insert(0, args.modules)
    base = 'ioam_clt_api' if args.proto == 'clt' else 'ioam_api'
    pb2 = importlib.import_module(base + '_pb2')
    pb2_grpc = importlib.import_module(base + '_pb2_grpc')
    from google.protobuf import empty_pb2

    events = json.load(sys.stdin)
    traces = [parse_ioam_trace(pb2, e, args.bitfield, args.proto == 'clt') for e in events]

    if args.ca:
        with open(args.ca, 'rb') as f:
            channel = grpc.secure_channel(args.target, grpc.ssl_channel_credentials(root_certificates=f.read()))
    else:
        channel = grpc.insecure_channel(args.target)
    metadata = [('authorization', 'Bearer ' + args.token)] if args.token else None

    def result(call):
        try:
            call()
            print(json.dumps({'code': 'OK', 'details': ''}))
        except grpc.RpcError as e:
            print(json.dumps({'code': e.code().name, 'details': e.details() or ''}))

    if args.mode == 'stream':
        # The Go agent's way: one client stream carrying every trace.
        stub = pb2_grpc.IOAMServiceStub(channel)
        result(lambda: stub.Report(iter(traces), metadata=metadata, timeout=20))
    else:
        # The unary Report of the older revision, one call per trace (what ioam-agent.py's stub.Report(trace) was written for).
        report = channel.unary_unary('/ioam_api.IOAMService/Report',
                                     request_serializer=pb2.IOAMTrace.SerializeToString,
                                     response_deserializer=empty_pb2.Empty.FromString)
        for t in traces:
            result(lambda: report(t, metadata=metadata, timeout=20))
    channel.close()


if __name__ == '__main__':
    main()
