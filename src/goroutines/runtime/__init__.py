"""The goroutine runtime: scheduler, timers, poller, sysmon (Go's package runtime)."""
