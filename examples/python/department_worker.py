"""A department's system in Python, connected to onewindow with nothing but the .proto.

It compiles proto/onewindow/v1/onewindow.proto with grpcio-tools at start, subscribes to
its department's stream of newly ready tasks, and claims and approves each one — the way
a real department system would after its own review.

    pip install -r examples/python/requirements.txt
    python examples/python/department_worker.py --token <department token> [--server 127.0.0.1:50051] [--limit N]

The token comes from the server's tokens file (data/tokens.yaml on a development server).
"""

import argparse
import importlib
import os
import sys
import tempfile
import uuid

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "..", "..", "proto")


def load_stubs():
    """Generate the Python stubs into a temporary directory and import them."""
    out = tempfile.mkdtemp(prefix="onewindow-stubs-")
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    code = protoc.main([
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        "onewindow/v1/onewindow.proto",
    ])
    if code != 0:
        sys.exit(f"protoc failed ({code})")
    sys.path.insert(0, out)
    pb = importlib.import_module("onewindow.v1.onewindow_pb2")
    rpc = importlib.import_module("onewindow.v1.onewindow_pb2_grpc")
    return pb, rpc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="127.0.0.1:50051")
    parser.add_argument("--token", required=True, help="a department's bearer token")
    parser.add_argument("--limit", type=int, default=0, help="stop after approving this many tasks (0: run forever)")
    args = parser.parse_args()

    pb, rpc = load_stubs()
    channel = grpc.insecure_channel(args.server)
    department = rpc.DepartmentStub(channel)
    auth = [("authorization", f"Bearer {args.token}")]

    approved = 0
    for task in department.StreamReady(pb.StreamReadyRequest(), metadata=auth):
        print(f"ready: {task.project}/{task.item} due {task.due}", flush=True)
        for call, request in (
            (department.Claim, pb.ItemCommand(request_id=str(uuid.uuid4()), project=task.project, item=task.item)),
            (department.Approve, pb.ApproveRequest(request_id=str(uuid.uuid4()), project=task.project, item=task.item)),
        ):
            try:
                answer = call(request, metadata=auth)
            except grpc.RpcError as e:
                print(f"  refused: {e.code().name}: {e.details()}", flush=True)
                break
            for event in answer.events:
                print(f"  #{event.seq} {event.summary}", flush=True)
        else:
            approved += 1
        if args.limit and approved >= args.limit:
            return


if __name__ == "__main__":
    main()
