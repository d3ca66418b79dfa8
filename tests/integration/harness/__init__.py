"""trunx integration-test harness (Python 3 standard library only).

Modules:
  procs    - starting processes and killing every one of them by PID
  ports    - free UDP/TCP port and port-range picking on loopback
  sipp     - running SIPp scenarios and reading their statistics
  capture  - tcpdump capture on the test's own ports, pcap and RTP parsing
  sipmsg   - a small raw SIP endpoint (UDP/TCP) for hand-made messages
  trunxd   - config generation, start/stop, readiness, JSON log reading, trunxctl
  case     - the test-case runner used by every integration test driver
"""
