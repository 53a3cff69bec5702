{
  "targets": [
    {
      "target_name": "netspan_native",
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/netspan_native.c"],
          "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
        }]
      ]
    }
  ]
}
