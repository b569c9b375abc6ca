{
  "targets": [
    {
      "target_name": "udpbatch",
      "sources": ["udpbatch.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "nfnetlink",
      "sources": ["nfnetlink.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "tcprelay",
      "sources": ["tcprelay.c", "relay_io.c", "relay_worker.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "malloctrim",
      "sources": ["malloctrim.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "memrelease",
      "sources": ["memrelease.cc"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
