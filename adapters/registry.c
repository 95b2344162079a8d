/* registry.c: the adapters built into this parleyd. */
#include "autoconfig.h"

#include <stddef.h>

#include "adapter.h"

extern const struct adapter_ops console_adapter_ops;
extern const struct adapter_ops matrix_adapter_ops;
extern const struct adapter_ops slack_adapter_ops;
extern const struct adapter_ops telegram_adapter_ops;

const struct adapter_ops *const adapter_registry[] = {
        &console_adapter_ops,
        &telegram_adapter_ops,
        &slack_adapter_ops,
        &matrix_adapter_ops,
        NULL,
};
