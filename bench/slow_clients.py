#!/usr/bin/python3
"""Slow clients against a real xai-server (any build) on the demo repository: N connections
on the REST port and M on the metrics port that each send part of a request and stall
(half a request line, headers that never end, a body that never comes), then a Classify
over REST and a scrape, timed; the server's threads and resident memory before, during
and after (read from /proc).

Usage: /usr/bin/python3 bench/slow_clients.py --server build/xai-server [--rest 512]
       [--metrics 64] [-- extra xai-server flags]
Goal (issue 25): each call under 1 s; threads and memory back to their level after.
"""
import argparse
import base64
import http.client
import json
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_state(pid):
    threads = len(os.listdir("/proc/%d/task" % pid))
    with open("/proc/%d/statm" % pid) as f:
        resident = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return threads, resident / 1e6


def timed_call(port, method, path, body=None, timeout=60):
    """(seconds, HTTP status), or (seconds, "no answer") when none came within `timeout`."""
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body,
                           {"Content-Type": "application/json"} if body else {})
        response = connection.getresponse()
        response.read()
        status = response.status
    except OSError as e:
        status = "no answer (%s)" % type(e).__name__
    connection.close()
    return time.perf_counter() - start, status


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True)
    parser.add_argument("--rest", type=int, default=512, help="stalled REST connections")
    parser.add_argument("--metrics", type=int, default=64, help="stalled metrics connections")
    parser.add_argument("extra", nargs="*", help="more xai-server flags (after --)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rest, metrics = free_port(), free_port()
    with open(os.path.join(ROOT, "samples", "star_3.png"), "rb") as f:
        body = json.dumps({"image": {"encoded": base64.b64encode(f.read()).decode()}})
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(
            [args.server, "--model-repository", os.path.join(ROOT, "models"),
             "--address", "127.0.0.1:0", "--http-address", "127.0.0.1:%d" % rest,
             "--metrics-address", "127.0.0.1:%d" % metrics, "--access-log=false", *args.extra],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.time() + 120
            while True:
                log.seek(0)
                if re.search(r"REST.*\(port", log.read()):
                    try:
                        if timed_call(rest, "GET", "/v2/health/ready")[1] == 200:
                            break
                    except OSError:
                        pass
                if server.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    sys.exit("xai-server did not start:\n" + log.read()[-2000:])
                time.sleep(0.1)
            timed_call(rest, "POST", "/v1/models/shapes:classify", body)  # warm-up
            before = process_state(server.pid)
            stalled = []
            kinds = [b"POST /v1/models/shapes:clas",
                     b"POST /v1/models/shapes:classify HTTP/1.1\r\nHost: x\r\n",
                     b"POST /v1/models/shapes:classify HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 100000\r\n\r\n{\"image\": "]
            for i in range(args.rest + args.metrics):
                s = socket.create_connection(("127.0.0.1", rest if i < args.rest else metrics))
                s.sendall(kinds[i % 3] if i < args.rest else b"GET /metr")
                stalled.append(s)
            time.sleep(0.5)
            classify_s, classify_status = timed_call(rest, "POST", "/v1/models/shapes:classify",
                                                     body)
            scrape_s, scrape_status = timed_call(metrics, "GET", "/metrics")
            during = process_state(server.pid)
            for s in stalled:
                s.close()
            time.sleep(1.0)
            after = process_state(server.pid)
        finally:
            server.terminate()
            server.wait()
    print("%s with %d stalled REST and %d stalled metrics connections (%d cores)" % (
        os.path.basename(args.server), args.rest, args.metrics, os.cpu_count()))
    print("| | seconds | status |")
    print("| --- | --- | --- |")
    print("| Classify over REST | **%.3f** | %s |" % (classify_s, classify_status))
    print("| a scrape of /metrics | **%.3f** | %s |" % (scrape_s, scrape_status))
    print("threads before %d, during %d, after %d; resident memory %.1f MB before, %.1f "
          "during, %.1f after" % (before[0], during[0], after[0], before[1], during[1],
                                   after[1]))


if __name__ == "__main__":
    main()
