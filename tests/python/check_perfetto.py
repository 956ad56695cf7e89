"""Decodes a `probe export --format perfetto` trace with Python's official
protobuf runtime and message definitions written here from Perfetto's
protos (protos/perfetto/trace/trace.proto, trace_packet.proto,
track_event/track_descriptor.proto, process_descriptor.proto,
counter_descriptor.proto, track_event.proto) — nothing shared with the
Rust encoder — and compares every counter track with EXPECTED.json:
{"tracks": {name: [[ts_ns, value], ...]}, "process": name}.

usage: check_perfetto.py TRACE EXPECTED.json
"""
import json
import math
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def message(fd, name, fields):
    m = fd.message_type.add(name=name)
    for fname, number, ftype, label, type_name in fields:
        f = m.field.add(name=fname, number=number, type=ftype, label=label)
        if type_name:
            f.type_name = type_name


OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED
fd = descriptor_pb2.FileDescriptorProto(name="perfetto_subset.proto", package="perfetto.protos", syntax="proto2")
message(fd, "ProcessDescriptor", [("pid", 1, F.TYPE_INT32, OPT, None),
                                  ("process_name", 6, F.TYPE_STRING, OPT, None)])
message(fd, "CounterDescriptor", [("unit_name", 6, F.TYPE_STRING, OPT, None)])
message(fd, "TrackDescriptor", [("uuid", 1, F.TYPE_UINT64, OPT, None),
                                ("name", 2, F.TYPE_STRING, OPT, None),
                                ("process", 3, F.TYPE_MESSAGE, OPT, ".perfetto.protos.ProcessDescriptor"),
                                ("parent_uuid", 5, F.TYPE_UINT64, OPT, None),
                                ("counter", 8, F.TYPE_MESSAGE, OPT, ".perfetto.protos.CounterDescriptor")])
message(fd, "TrackEvent", [("type", 9, F.TYPE_INT32, OPT, None),
                           ("track_uuid", 11, F.TYPE_UINT64, OPT, None),
                           ("name", 23, F.TYPE_STRING, OPT, None),
                           ("counter_value", 30, F.TYPE_INT64, OPT, None),
                           ("double_counter_value", 44, F.TYPE_DOUBLE, OPT, None)])
message(fd, "TracePacket", [("timestamp", 8, F.TYPE_UINT64, OPT, None),
                            ("trusted_packet_sequence_id", 10, F.TYPE_UINT32, OPT, None),
                            ("track_event", 11, F.TYPE_MESSAGE, OPT, ".perfetto.protos.TrackEvent"),
                            ("sequence_flags", 13, F.TYPE_UINT32, OPT, None),
                            ("track_descriptor", 60, F.TYPE_MESSAGE, OPT, ".perfetto.protos.TrackDescriptor")])
message(fd, "Trace", [("packet", 1, F.TYPE_MESSAGE, REP, ".perfetto.protos.TracePacket")])
pool = descriptor_pool.DescriptorPool()
pool.Add(fd)
Trace = message_factory.GetMessageClass(pool.FindMessageTypeByName("perfetto.protos.Trace"))

trace = Trace()
with open(sys.argv[1], "rb") as f:
    trace.ParseFromString(f.read())
with open(sys.argv[2], encoding="utf-8") as f:
    expected = json.load(f)

fail = []
tracks, process = {}, None
values = {}
for p in trace.packet:
    if p.trusted_packet_sequence_id == 0:
        fail.append("a packet without trusted_packet_sequence_id (trace processor drops it)")
    if p.HasField("track_descriptor"):
        td = p.track_descriptor
        if td.HasField("process"):
            process = (td.uuid, td.process.process_name)
        elif td.HasField("counter"):
            if process is None or td.parent_uuid != process[0]:
                fail.append(f"counter track {td.name} is not under the process track")
            tracks[td.uuid] = td.name
        else:
            fail.append(f"track {td.name}: neither process nor counter")
    elif p.HasField("track_event"):
        e = p.track_event
        if e.type != 4:
            fail.append(f"event type {e.type}, not TYPE_COUNTER")
        if e.track_uuid not in tracks:
            fail.append(f"event on unknown track {e.track_uuid}")
            continue
        v = e.double_counter_value if e.HasField("double_counter_value") else float(e.counter_value)
        values.setdefault(tracks[e.track_uuid], []).append([p.timestamp, v])

if process is None or process[1] != expected["process"]:
    fail.append(f"process track {process}, expected {expected['process']}")
if sorted(values) != sorted(expected["tracks"]):
    fail.append(f"tracks {sorted(values)}, expected {sorted(expected['tracks'])}")
for name, want in expected["tracks"].items():
    got = values.get(name, [])
    if len(got) != len(want):
        fail.append(f"{name}: {len(got)} values, expected {len(want)}")
        continue
    bad = [(g, w) for g, w in zip(got, want) if g[0] != w[0] or g[1] != w[1]]
    if bad:
        fail.append(f"{name}: {len(bad)} values differ, first {bad[0]}")
    ts = [g[0] for g in got]
    if ts != sorted(ts):
        fail.append(f"{name}: timestamps not in order")

if fail:
    print("\n".join(fail))
    sys.exit(1)
print(f"ok: {len(values)} counter tracks, {sum(len(v) for v in values.values())} values")
