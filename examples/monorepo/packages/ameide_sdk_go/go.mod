module go.packages.dev.ameide.io/ameide-sdk-go

go 1.22

require go.packages.dev.ameide.io/ameide-telemetry-go v0.0.0

replace go.packages.dev.ameide.io/ameide-telemetry-go => ../ameide_telemetry_go
