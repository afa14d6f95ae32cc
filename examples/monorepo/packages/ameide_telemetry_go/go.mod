module go.packages.dev.ameide.io/ameide-telemetry-go

go 1.22
