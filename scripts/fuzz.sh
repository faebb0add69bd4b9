#!/usr/bin/env bash
# Fuzz the config.json reader, the trace readers and block records read back from a tier with
# libFuzzer + ASan + UBSan.
#
# Configures build-fuzz/ with clang (-DKVT_FUZZ=ON -DKVT_TESTS=OFF) and builds two targets:
#   fuzz_config  config.json -> model -> sizing; seeds in build-fuzz/corpus: the catalog configs
#                (data/models/*.json) and a few broken variants;
#   fuzz_trace   trace file -> kvt_trace_load (auto, Mooncake, Bailian) -> replay; seeds in
#                build-fuzz/corpus-trace: Mooncake lines written here, the Bailian fixture
#                (tests/data/bailian_small.jsonl) and broken variants.
#   fuzz_block   a block file left in a PFS directory -> GET through the tier; seeds in
#                build-fuzz/corpus-block: valid records of a few sizes and damaged variants.
#   fuzz_segment a segment file left in an nvme tier directory -> open (recovery), scan, GET
#                every block found, PUT, reopen; seeds in build-fuzz/corpus-segment: valid
#                records laid out as src/tier/nvme_segment.c documents, and damaged layouts.
#   fuzz_node    node description -> kvt_node_load -> the store's tiers, a node replay and the
#                TTFT projection; seeds in build-fuzz/corpus-node: data/nodes/*.json, small
#                valid nodes at the edges of the format and broken variants.
# Each runs for FUZZ_SECONDS (default 60). Exits non-zero when any finds a crash, a leak,
# undefined behaviour or a timeout; the input that triggered it is left in build-fuzz/artifacts/
# (config-..., trace-..., block-..., segment-... or node-...). FUZZ_TRACE_POLICIES="lru,belady"
# limits the policies fuzz_trace replays (default: every built-in one).
#
#   scripts/fuzz.sh                      # 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh     # longer
#   build-fuzz/fuzz/fuzz_config build-fuzz/artifacts/config-crash-...   # replay a finding
#   build-fuzz/fuzz/fuzz_trace build-fuzz/artifacts/trace-crash-...
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
seconds="${FUZZ_SECONDS:-60}"

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (scripts/install-deps.sh)" >&2; exit 1; }

CC=clang cmake -S "$root" -B "$build" -DKVT_FUZZ=ON -DKVT_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_config fuzz_trace fuzz_block fuzz_segment fuzz_node -j"$(nproc)"

corpus="$build/corpus"
mkdir -p "$corpus" "$build/artifacts"
cp "$root"/data/models/*.json "$corpus"/

# Broken variants: the shapes of mistake the reader must reject cleanly.
seed() { printf '%s' "$2" >"$corpus/broken-$1.json"; }
llama="$root/data/models/llama-3.1-8b.json"
head -c 300 "$llama" >"$corpus/broken-truncated.json"
{ cat "$llama"; printf ' trailing'; } >"$corpus/broken-trailing.json"
seed empty ''
seed array '[{"num_hidden_layers": 2}]'
seed kv7 '{"num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 7}'
seed negative '{"num_hidden_layers": -8, "hidden_size": 4096.5, "num_attention_heads": "32"}'
seed huge '{"num_hidden_layers": 100000, "hidden_size": 16777216, "num_attention_heads": 1, "max_position_embeddings": 1e400}'
seed layer-types '{"num_hidden_layers": 3, "hidden_size": 64, "num_attention_heads": 4, "sliding_window": 8, "layer_types": ["sliding_attention", "conv", "chunked_attention"]}'
seed text-config '{"torch_dtype": "float7", "text_config": [1, 2], "sliding_window": null}'
seed mla '{"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "kv_lora_rank": 16, "qk_nope_head_dim": 8, "v_head_dim": 8, "index_head_dim": 4}'
seed linear '{"num_hidden_layers": 4, "hidden_size": 64, "num_attention_heads": 4, "full_attention_interval": 2, "linear_num_key_heads": 4294967295, "linear_conv_kernel_dim": 1}'
seed mamba '{"model_type": "jamba", "num_hidden_layers": 8, "hidden_size": 64, "num_attention_heads": 4, "attn_layer_period": 0, "mamba_n_heads": 2}'
seed llama4 '{"num_hidden_layers": 4, "hidden_size": 64, "num_attention_heads": 4, "attention_chunk_size": 8, "no_rope_layers": [1, 0.5, 1], "no_rope_layer_interval": 0}'
seed escapes '{"model_type": "\ud800\u0000\\", "num_hidden_layers": 1, "hidden_size": 8, "num_attention_heads": 1, "torch_dtype": "bf\u0031\u0036"}'
seed unterminated '{"model_type": "llama\'

# A dictionary of the field names and values the reader looks for (generated, not kept in git).
dict="$build/config.dict"
{
    for w in num_hidden_layers n_layer num_layers hidden_size n_embd d_model num_attention_heads \
        n_head num_heads num_key_value_heads num_kv_heads n_head_kv max_position_embeddings \
        n_positions max_sequence_length torch_dtype dtype model_type head_dim text_config \
        multi_query new_decoder_architecture kv_lora_rank qk_rope_head_dim qk_nope_head_dim \
        v_head_dim num_nextn_predict_layers mtp_num_hidden_layers index_head_dim index_n_heads \
        index_topk layer_types sliding_window use_sliding_window max_window_layers \
        sliding_window_pattern full_attention_interval attn_layer_period attn_layer_offset \
        attention_chunk_size no_rope_layers no_rope_layer_interval linear_num_key_heads \
        linear_num_value_heads linear_key_head_dim linear_value_head_dim linear_conv_kernel_dim \
        mamba_d_state state_size mamba_d_conv conv_kernel mamba_expand expand mamba_n_heads \
        mamba_d_head mamba_n_groups full_attention attention global_attention sliding_attention \
        local_attention chunked_attention linear_attention mamba gemma2 gemma3 gemma3_text \
        llama4_text jamba falcon bfloat16 float16 float32 fp8 int4 mxfp4 auto; do
        printf '"\\"%s\\""\n' "$w"
    done
    printf '"%s"\n' null true false '{' '}' '[' ']' ':' ',' '-0' '1e400' '4294967296' '0.5'
} >"$dict"

# The trace corpus: Mooncake lines (block_tokens 4 and 512), the Bailian fixture, broken variants.
tcorpus="$build/corpus-trace"
mkdir -p "$tcorpus"
cp "$root/tests/data/bailian_small.jsonl" "$tcorpus/bailian-small.jsonl"
tseed() { printf '%b' "$2" >"$tcorpus/$1.jsonl"; }
mc() { printf '{"timestamp": %s, "input_length": %s, "output_length": %s, "hash_ids": [%s]}\\n' "$@"; }
tseed mooncake-4 "$(mc 0 7 4 '1, 2')$(mc 10 16 4 '1, 2, 3, 4')$(mc 20 8 2 '1, 5')$(mc 30 12 1 '1, 5, 6')$(mc 40.5 20 0 '1, 2, 3, 7, 8')"
tseed mooncake-512 "$(mc 0 600 10 '0, 1')$(mc 5 1100 20 '0, 1, 2')$(mc 3 512 1 '0')\\n\\n$(mc 5 40 2 '9')"
tseed mooncake-repeat "$(mc 0 8 1 '1, 2')$(mc 1 8 1 '3, 4')$(mc 2 8 1 '1, 2')$(mc 3 8 1 '1, 1')$(mc 3 4 1 '2')"
tseed broken-not-json "$(mc 0 8 2 '1, 2')\\n{\"timestamp\": 1, oops\\n"
tseed broken-missing '{"timestamp": 1, "output_length": 2, "hash_ids": [1, 2]}\n'
tseed broken-negative "$(mc 0 8 -1 '1, 2')"
tseed broken-hash-type '{"timestamp": 1, "input_length": 4, "output_length": 2, "hash_ids": {"0": 7}}\n'
tseed broken-hash-elem "$(mc 0 8 2 '5, -1')$(mc 1 12 2 '5, 6, 2.5')"
tseed broken-hash-len "$(mc 0 10 2 '1, 2')"
tseed broken-time "$(mc '"12"' 8 2 '1, 2')$(mc 1e300 8 2 '1, 2')$(mc 1.5e16 8 2 '1, 3')"
tseed broken-huge '{"timestamp": 0, "input_length": 4294967295, "output_length": 4294967296, "hash_ids": [18446744073709551615]}\n'
tseed broken-concat "$(mc 0 8 2 '1, 2' | sed 's/\\n$//')$(mc 1 8 2 '1, 3')"
tseed broken-empty ''
tseed broken-blank '\n \n\t\r\n'
tseed broken-unknown '{"foo": 1}\n'
bl() { printf '{"chat_id": %s, "parent_chat_id": %s, "timestamp": %s, "input_length": %s, "output_length": %s, "type": "%s", "turn": 1, "hash_ids": [%s]}\\n' "$@"; }
tseed bailian-self "$(bl 1 1 0.5 20 4 text '1, 2')$(bl 1 1 0.25 40 4 search '1, 2, 3')$(bl 2 1 0.75 16 0 file '9')"
tseed broken-bailian "$(bl 1 -1 0.5 20 4 text '1, 2')"'{"parent_chat_id": 1, "timestamp": 1.0, "input_length": 20, "output_length": 4, "hash_ids": [1, 3]}\n'"$(bl 3 '"1"' 2 16 1 text '4')"
head -c 700 "$root/tests/data/bailian_small.jsonl" >"$tcorpus/broken-truncated.jsonl"
# The first few KiB of each real trace in ../shared, when present (read there, never copied
# into the repository): one seed per reader.
shared="$root/../shared/traces"
if [ -d "$shared" ]; then
    for f in agentcgroup-claude-code/llm_calls.csv azure-llm-2023/AzureLLMInferenceTrace_conv.csv \
             sharegpt-llmservingsim-tokens/sharegpt-llama-3.1-8b-300-sps10.jsonl \
             sharegpt-lmbenchmark-multiround/warmup.json; do
        [ -f "$shared/$f" ] && head -c 6000 "$shared/$f" >"$tcorpus/shared-$(basename "$f")"
    done
    traj=$(find "$shared/swe-agent-trajectories" -name '*.traj' | sort | head -n 1)
    [ -n "$traj" ] && head -c 8000 "$traj" >"$tcorpus/shared-first.traj"
fi

tdict="$build/trace.dict"
{
    for w in timestamp input_length output_length hash_ids chat_id parent_chat_id type turn \
        text search file; do
        printf '"\\"%s\\""\n' "$w"
    done
    printf '"%s"\n' null true false '{' '}' '[' ']' ':' ',' '-1' '-0' '0.5' '1e300' \
        '4294967295' '4294967296' '18446744073709551615' '1.5e16'
    printf '"\\x0a"\n'
} >"$tdict"

# The block corpus: records laid out as kvtier/block.h documents, checksums left for the harness
# to repair (first byte 3), of a few payload sizes, plus damaged variants.
bcorpus="$build/corpus-block"
mkdir -p "$bcorpus"
python3 - "$bcorpus" <<'PY'
import os, struct, sys
out = sys.argv[1]
def record(payload_len, declared=None, version=2, fill=b"kv"):
    payload = (fill * (payload_len // len(fill) + 1))[:payload_len]
    h = b"KVTBLK01" + struct.pack("<HHI", version, 128, 1)
    h += struct.pack("<QQQQQ", 0x0102030405060708, 0x1112131415161718, 0x21, 0x31, 7)
    h += struct.pack("<QQQI4x", 0xabc, 0, 4096, 16)
    h += struct.pack("<QQ", payload_len if declared is None else declared, 0)
    h += bytes(16) + bytes(8)
    assert len(h) == 128
    return h + payload
seeds = {"empty-payload": record(0), "small": record(100), "block-4k": record(4096),
         "block-64k": record(65536), "declared-longer": record(100, 5000),
         "declared-huge": record(16, 1 << 62), "version-1": record(64, version=1)}
for name, body in seeds.items():
    open(os.path.join(out, name), "wb").write(bytes([3]) + body)
    open(os.path.join(out, name + "-raw"), "wb").write(bytes([0]) + body)
open(os.path.join(out, "truncated"), "wb").write(bytes([3]) + record(4096)[:2000])
PY

# The segment corpus: what follows sector 0 of a segment (fuzz_segment writes a valid header of
# generation 7 unless the first byte's bit 2 says the input brings its own), records of a few
# sizes with every repair asked for (first byte 3), and damaged layouts.
scorpus="$build/corpus-segment"
mkdir -p "$scorpus"
python3 - "$scorpus" <<'PY'
import os, struct, sys
out = sys.argv[1]
SECTOR = 4096
def pad(b):
    return b + bytes(-len(b) % SECTOR)
def record(key, payload_len, fill=b"kv"):
    payload = (fill * (payload_len // len(fill) + 1))[:payload_len]
    h = b"KVTBLK01" + struct.pack("<HHI", 2, 128, 1)
    h += struct.pack("<QQQQQ", key, key ^ 0xffff, key - 1, 0, 7)
    h += struct.pack("<QQQI4x", 0xabc, 0, 16 * key, 16)
    h += struct.pack("<QQ", payload_len, 0) + bytes(24)
    d = h + b"KVTREC01" + struct.pack("<QQQQ", 7, 0, payload_len, 0)
    return pad(d) + pad(payload)
def seed(name, body, flags=3):
    open(os.path.join(out, name), "wb").write(bytes([flags]) + body)
seed("one", record(1, 100))
seed("three", record(1, 4096) + record(2, 5000, b"xyz") + record(3, 20000))
seed("hole", record(1, 100) + bytes(SECTOR) + record(2, 100) + b"\xff" * SECTOR + record(3, 7))
seed("same-key", record(5, 100, b"a") + record(5, 100, b"b"))
seed("torn-tail", bytes(11 * SECTOR) + record(9, 24 * 1024)[: 4 * SECTOR])
seed("empty-payload", record(4, 0) + record(6, 1))
seed("stale-generation", record(1, 100) + record(2, 100), flags=2)
seed("unrepaired", record(1, 100) + record(2, 100), flags=0)
header = b"KVTSEG01" + struct.pack("<QQQ", 1, 64 * 1024, 9) + bytes(8)
seed("own-header", pad(header) + record(1, 100), flags=7)
PY

# The node corpus: the shipped descriptions, small valid nodes at the edges of the format (one
# tier; every kind; tiny capacities and bandwidths; huge latencies), "auto" where the model's
# weights leave no room, and the shapes of mistake the loader must name.
ncorpus="$build/corpus-node"
mkdir -p "$ncorpus"
cp "$root"/data/nodes/*.json "$ncorpus"/
nseed() { printf '%s' "$2" >"$ncorpus/$1.json"; }
tier() { # kind capacity read_GBps write_GBps latency_us layerwise
    printf '{"kind": "%s", "capacity": %s, "read_GBps": %s, "write_GBps": %s, ' "$1" "$2" "$3" "$4"
    printf '"latency_us": %s, "layerwise": %s}' "$5" "$6"
}
node() { # gpu instances model tiers
    printf '{"name": "n", "gpu": "%s", "instances": %s, "model": "%s", "tiers": [%s]}' "$@"
}
hbm="$(tier hbm '"auto"' 3350 3350 0 true)"
nseed hbm-only "$(node h100-sxm 1 llama-3.1-8b "$hbm")"
small="$(tier dram 1 1 1 1 true)"
kinds="$(tier hbm '"100G"' 8000 8000 0 true), $(tier dram '"4Ki"' 50 50 10 true)"
kinds="$kinds, $(tier cxl 4096 25 25 20 true), $(tier nvme '"1M"' 12 8 100 true)"
kinds="$kinds, $(tier pool '"16T"' 40 40 20 true), $(tier pfs '"1000T"' 5 3 1000 false)"
nseed all-kinds "$(node b200 2 deepseek-v3 "$kinds")"
tiny="$(tier hbm 1 1e-300 1e-300 1e300 false), $(tier nvme 1 5e-324 5e-324 0 false)"
nseed tiny "$(node l40s 1 qwen3-next-80b-a3b "$tiny")"
prefault="$(tier nvme '"30T"' 12 8 100 true | sed 's/}$/, "prefault": true}/')"
nseed prefault "$(node h200 64 gpt-oss-20b "$hbm, $(tier dram '"2Ti"' 50 50 10 true), $prefault")"
nseed auto-no-room "$(node a100-40gb 1 llama-3.1-70b "$hbm")"
nseed broken-order "$(node h100-sxm 1 llama-3.1-8b "$hbm, $(tier nvme 1 1 1 1 true), $small")"
nseed broken-twice "$(node h100-sxm 1 llama-3.1-8b "$hbm, $small, $small")"
nseed broken-auto "$(node h100-sxm 1 llama-3.1-8b "$hbm, $(tier dram '"auto"' 1 1 1 true)")"
nseed broken-first "$(node h100-sxm 1 llama-3.1-8b "$small")"
nseed broken-values "$(node h100-sxm 1.5 llama-3.1-8b "$(tier hbm '"12Qi"' 0 -1 '"1"' 1)")"
nseed broken-names "$(node h999 4294967296 llama-9 "$hbm")"
nseed broken-keys '{"name": "n", "gpus": "h100-sxm", "tiers": [{"kind": "hbm", "bandwidth": 1}]}'
nseed broken-empty ''
head -c 200 "$root/data/nodes/h100-node.json" >"$ncorpus/broken-truncated.json"
ndict="$build/node.dict"
{
    for w in name gpu instances model tiers kind capacity read_GBps write_GBps latency_us \
        layerwise prefault hbm dram cxl nvme pool pfs auto h100-sxm h100-pcie h200 b200 gb200 \
        a100-40gb a100-80gb l40s mi300x mi325x llama-3.1-8b deepseek-v3 kimi-k2 jamba-v0.1 \
        gpt-oss-20b qwen3-next-80b-a3b 2Ti 30T 4Ki 1M 16k; do
        printf '"\\"%s\\""\n' "$w"
    done
    printf '"%s"\n' null true false '{' '}' '[' ']' ':' ',' '-0' '0' '1e-300' '5e-324' '1e300' \
        '9007199254740993' '4294967296' '0.5'
} >"$ndict"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
# run TARGET CORPUS [DICT]: fuzz_TARGET for $seconds; its findings go to artifacts/TARGET-...
run() {
    local rc
    "$build/fuzz/fuzz_$1" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        ${3:+-dict="$3"} -artifact_prefix="$build/artifacts/$1-" "$2"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "fuzz.sh: fuzz_$1 failed (exit $rc); reproducer in $build/artifacts/" >&2
        [ "$status" -ne 0 ] || status=$rc
    fi
}
set +e
run config "$corpus" "$dict"
run trace "$tcorpus" "$tdict"
run block "$bcorpus"
run segment "$scorpus"
run node "$ncorpus" "$ndict"
set -e
if [ "$status" -ne 0 ]; then
    exit "$status"
fi
echo "fuzz.sh: no crash in ${seconds} s per target" >&2
