import os

# The tests under inner/ start a real Ray cluster. They run only inside the loopback-only network
# namespace that test_ray_cluster.py makes (`unshare --net`), which sets SIEVE_RAY_INNER=1.
collect_ignore_glob = [] if os.environ.get("SIEVE_RAY_INNER") == "1" else ["inner/*"]
