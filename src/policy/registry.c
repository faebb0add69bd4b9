/*
 * The table of built-in policies. Adding a policy = one ops table in its own file and one line
 * here.
 */
#include "policy/policy.h"

#include <strings.h>

const kvt_policy_ops_t *const kvt_policies[] = {
    &kvt_policy_lru,    &kvt_policy_lfu,    &kvt_policy_arc,
    &kvt_policy_s3fifo, &kvt_policy_predictive, &kvt_policy_belady,
    NULL,
};

const kvt_policy_ops_t *kvt_policy_find(const char *name)
{
    for (size_t i = 0; name != NULL && kvt_policies[i] != NULL; i++) {
        if (strcasecmp(name, kvt_policies[i]->name) == 0) {
            return kvt_policies[i];
        }
    }
    return NULL;
}

const kvt_policy_ops_t *kvt_policy_resolve(const char *name, bool *tail_first_p)
{
    *tail_first_p = true;
    if (name != NULL && strcasecmp(name, "belady-head") == 0) {
        *tail_first_p = false;
        return &kvt_policy_belady;
    }
    return kvt_policy_find(name);
}
