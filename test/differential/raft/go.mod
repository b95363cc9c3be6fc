module fabric-orderer-ts/test/differential/raft

go 1.22

require go.etcd.io/etcd/raft/v3 v3.5.9

require (
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.2 // indirect
	google.golang.org/protobuf v1.26.0 // indirect
)
