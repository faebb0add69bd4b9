/*
 * The GPU catalog for capacity planning.
 *
 * Memory is the total the driver reports (nvidia-smi "MiB" total, rocm-smi bytes), which is
 * what an engine's memory-utilization fraction applies to -- not the marketing figure (an
 * "80GB" H100 reports 81559 MiB, an "141GB" H200 143771 MiB). Bandwidth and dense bf16
 * throughput are datasheet peaks (no sparsity); the host link is one direction of the
 * GPU's PCIe x16 link (Gen4: 32 GB/s, Gen5: 64 GB/s, Gen6: 128 GB/s) or, for GB200, of
 * NVLink-C2C (900 GB/s both ways). Prices are indicative on-demand cloud rates per GPU-hour
 * (an assumption for cost projections, overridable: they vary by provider and commitment).
 * Measured figures for one H100 are in
 * research/device-probe.md: 53-55 GB/s pinned host-to-device against 64 nominal.
 */
#include <kvtier/gpu.h>

#include <strings.h>

#define MIB (1ull << 20)

static const kvt_gpu_spec_t gpus[] = {
    {"h100-sxm", "NVIDIA H100 SXM5 80GB", 81559 * MIB, 3350, 989.4, 64, "PCIe Gen5 x16",
     "81559 MiB per nvidia-smi; 3.35 TB/s HBM3; 989 TFLOP/s dense bf16 (datasheet)", 2.99},
    {"h100-pcie", "NVIDIA H100 PCIe 80GB", 81559 * MIB, 2000, 756.0, 64, "PCIe Gen5 x16",
     "81559 MiB per nvidia-smi; 2.0 TB/s HBM2e; 756 TFLOP/s dense bf16 (datasheet)", 2.49},
    {"h200", "NVIDIA H200 SXM 141GB", 143771 * MIB, 4800, 989.4, 64, "PCIe Gen5 x16",
     "143771 MiB per nvidia-smi; 4.8 TB/s HBM3e; 989 TFLOP/s dense bf16 (datasheet)", 3.79},
    {"b200", "NVIDIA B200 180GB", 183359 * MIB, 8000, 2250.0, 128, "PCIe Gen6 x16",
     "183359 MiB per nvidia-smi (HGX B200); 8 TB/s HBM3e; 2.25 PFLOP/s dense bf16", 5.99},
    {"gb200", "NVIDIA GB200 (one Blackwell GPU)", 189471 * MIB, 8000, 2500.0, 450,
     "NVLink-C2C", "189471 MiB per nvidia-smi; 8 TB/s HBM3e; 2.5 PFLOP/s dense bf16; "
                   "NVLink-C2C 900 GB/s bidirectional to Grace", 6.99},
    {"a100-40gb", "NVIDIA A100 SXM4 40GB", 40960 * MIB, 1555, 312.0, 32, "PCIe Gen4 x16",
     "40960 MiB per nvidia-smi; 1.555 TB/s HBM2; 312 TFLOP/s dense bf16", 1.29},
    {"a100-80gb", "NVIDIA A100 SXM4 80GB", 81920 * MIB, 2039, 312.0, 32, "PCIe Gen4 x16",
     "81920 MiB per nvidia-smi; 2.039 TB/s HBM2e; 312 TFLOP/s dense bf16", 1.79},
    {"l40s", "NVIDIA L40S 48GB", 46068 * MIB, 864, 362.1, 32, "PCIe Gen4 x16",
     "46068 MiB per nvidia-smi; 864 GB/s GDDR6; 362 TFLOP/s dense bf16", 0.99},
    {"mi300x", "AMD Instinct MI300X 192GB", 205822885888ull, 5300, 1307.4, 64, "PCIe Gen5 x16",
     "205822885888 B per rocm-smi; 5.3 TB/s HBM3; 1307 TFLOP/s dense bf16", 2.49},
    {"mi325x", "AMD Instinct MI325X 256GB", 256ull << 30, 6000, 1307.4, 64, "PCIe Gen5 x16",
     "256 GiB HBM3e (datasheet); 6.0 TB/s; 1307 TFLOP/s dense bf16", 2.99},
};

#define NGPUS (sizeof(gpus) / sizeof(gpus[0]))

static const struct {
    const char *alias;
    const char *name;
} aliases[] = {
    {"h100", "h100-sxm"}, {"h100-80gb", "h100-sxm"}, {"h200-sxm", "h200"},
    {"a100", "a100-80gb"}, {"a100-40", "a100-40gb"}, {"a100-80", "a100-80gb"},
};

size_t kvt_gpu_count(void)
{
    return NGPUS;
}

const kvt_gpu_spec_t *kvt_gpu_at(size_t i)
{
    return i < NGPUS ? &gpus[i] : NULL;
}

const kvt_gpu_spec_t *kvt_gpu_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
        if (strcasecmp(name, aliases[i].alias) == 0) {
            name = aliases[i].name;
            break;
        }
    }
    for (size_t i = 0; i < NGPUS; i++) {
        if (strcasecmp(name, gpus[i].name) == 0) {
            return &gpus[i];
        }
    }
    return NULL;
}
