/* parleyd: the daemon (being built). */
#include "config.h"

#include "log.h"

int main(void)
{
        log_open("parleyd");
        return 0;
}
