/*
 * GPUDirect Storage probe. cuFile moves data between NVMe and GPU memory without a bounce
 * through host DRAM; kvtier would use it for the T3 -> HBM path. It is a heavy, optional
 * dependency, so it is never linked: the probe dlopen()s libcufile.so.1 (the runtime soname)
 * and then libcufile.so (a development install), checks that the entry points kvtier would call
 * exist, and closes the library again. The driver itself (cuFileDriverOpen) is not opened here:
 * that needs a GPU and nvidia-fs, and belongs to whoever moves data to a GPU. The answer is a
 * line for `kvtier info` and the NVMe tier's detail string.
 */
#include "tier/gds_probe.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

bool kvt_gds_probe(char *why, size_t why_len)
{
    static const char *const names[] = {"libcufile.so.1", "libcufile.so"};
    char first_err[160] = "";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) {
            if (first_err[0] == '\0') {
                const char *e = dlerror();
                snprintf(first_err, sizeof(first_err), "%s", e != NULL ? e : names[i]);
            }
            continue;
        }
        bool ok = dlsym(h, "cuFileDriverOpen") != NULL && dlsym(h, "cuFileRead") != NULL &&
                  dlsym(h, "cuFileHandleRegister") != NULL;
        dlclose(h);
        if (!ok) {
            snprintf(why, why_len, "unavailable: %s lacks the cuFile entry points", names[i]);
            return false;
        }
        snprintf(why, why_len, "available: %s (driver not opened)", names[i]);
        return true;
    }
    snprintf(why, why_len, "unavailable: %s", first_err);
    return false;
}
