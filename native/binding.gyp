{
  "targets": [{
    "target_name": "micronet_native",
    "sources": [
      "src/addon.cc",
      "src/handles.cc",
      "src/dispatch.cc",
      "src/tensor_io.cc",
      "src/engine_state.cc",
      "src/distributed.cc",
      "src/cuda.cc"
    ],
    "include_dirs": [
      "<!(node -p \"require('node-addon-api').include_dir\")",
      "<!@(node libtorch.cjs includes)"
    ],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "<!@(node libtorch.cjs defines)"],
    "cflags!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
    "cflags_cc": ["-std=c++20", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
    "ldflags": ["<!@(node libtorch.cjs ldflags)"],
    "libraries": ["<!@(node libtorch.cjs libraries)"]
  }]
}
