/* kvtier: the whole public API. */
#ifndef KVTIER_H
#define KVTIER_H

#include <kvtier/version.h>
#include <kvtier/status.h>
#include <kvtier/log.h>
#include <kvtier/dtype.h>
#include <kvtier/model.h>
#include <kvtier/size.h>
#include <kvtier/gpu.h>
#include <kvtier/plan.h>
#include <kvtier/node.h>
#include <kvtier/projection.h>
#include <kvtier/trace.h>
#include <kvtier/replay.h>
#include <kvtier/generator.h>
#include <kvtier/key.h>
#include <kvtier/block.h>
#include <kvtier/tier.h>
#include <kvtier/prefix_index.h>
#include <kvtier/store.h>

KVT_BEGIN_DECLS
/* The library's version string, which may differ from the header's KVT_VERSION_STRING. */
KVT_API const char *kvt_version(void);
KVT_END_DECLS

#endif
