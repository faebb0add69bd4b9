#!/usr/bin/env bash
# Replay every trace in ../shared/traces that kvtier reads against every policy, and the
# Mooncake trace on the built-in node with the TTFT projection: the tables in bench/RESULTS.md.
# Usage: bench/replay_tables.sh [BUILD_DIR]   (skips with a message when ../shared is absent)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kvtier="$root/${1:-build}/kvtier"
traces="$root/../shared/traces"
if [ ! -d "$traces" ]; then
    echo "replay_tables.sh: skipped: $traces not present"
    exit 0
fi
run() {
    echo
    echo "\$ kvtier replay $*"
    "$kvtier" replay "$@"
}
run --trace "$traces/mooncake-fast25/conversation_trace.jsonl" --policy all --capacity 1M,3M,10M,1T
run --trace "$traces/agentcgroup-claude-code/llm_calls.csv" --policy all --capacity 30k,100k,300k,1M,1T
for spec in "swe-agent-trajectories swe-traj 1400,7k,28k,1T" \
            "sharegpt-lmbenchmark-multiround/run.json sharegpt 1k,5k,20k,1T" \
            "sharegpt-llmservingsim-tokens/sharegpt-llama-3.1-8b-300-sps10.jsonl tokens 2400,12k,48k,1T" \
            "azure-llm-2023/AzureLLMInferenceTrace_code.csv azure 2k,8k,32k,1T" \
            "azure-llm-2023/AzureLLMInferenceTrace_conv.csv azure 2k,8k,32k,1T"; do
    set -- $spec
    if [ -e "$traces/$1" ] && "$kvtier" replay --help | grep -q -- "$2"; then
        run --trace "$traces/$1" --format "$2" --policy all --capacity "$3"
    fi
done
run --generate mix --policy all --capacity 500k,2M,10M
run --trace "$traces/mooncake-fast25/conversation_trace.jsonl" --policy all --node h100-node
