package etcdsim

import (
	pb "go.etcd.io/raft/v3/raftpb"
)

// Wire types: one Go type per etcd raft message type that crosses the
// network, so that dsim's traces and crash points (sim.MessageType prints
// "etcdsim.MsgAppResp") tell them apart. Each is a raftpb.Message.
type (
	// MsgApp carries entries from a leader (raftpb.MsgApp).
	MsgApp pb.Message
	// MsgAppResp acknowledges (or rejects) a MsgApp or MsgSnap: a promise
	// that the entries through Index are durable.
	MsgAppResp pb.Message
	// MsgVote asks for a vote (raftpb.MsgVote).
	MsgVote pb.Message
	// MsgVoteResp grants or refuses a vote: a promise that the vote is
	// durable.
	MsgVoteResp pb.Message
	// MsgPreVote asks for a pre-vote (raftpb.MsgPreVote).
	MsgPreVote pb.Message
	// MsgPreVoteResp answers a pre-vote; it promises nothing.
	MsgPreVoteResp pb.Message
	// MsgSnap carries a snapshot from a leader (raftpb.MsgSnap).
	MsgSnap pb.Message
	// MsgHeartbeat is a leader's heartbeat (raftpb.MsgHeartbeat).
	MsgHeartbeat pb.Message
	// MsgHeartbeatResp answers a heartbeat (raftpb.MsgHeartbeatResp).
	MsgHeartbeatResp pb.Message
	// MsgProp is a proposal a follower forwards to its leader.
	MsgProp pb.Message
	// MsgOther is every other message type (MsgTimeoutNow, MsgReadIndex...).
	MsgOther pb.Message
)

// PromiseMessages names (as sim.MessageType does) the messages by which a
// peer promises durable state: a granted vote and an acknowledged append.
// Crash points aim at them (sim.ProcessFaults.PointMsgs).
const PromiseMessages = "etcdsim.MsgVoteResp,etcdsim.MsgAppResp"

// wire wraps a Ready message for the network. Its Entries are copied (in
// v3.6 the Entry values, not their immutable Data, into a slice of exact
// capacity; in v3.7 the whole message), as a real transport would decode
// fresh ones: etcd raft may keep a received Entries slice and append to it,
// and the sender's storage must not alias the receiver's.
func wire(m *pb.Message) any {
	c := pbCloneMsg(m)
	switch pbMsgType(c.Type) {
	case pb.MsgApp:
		return (*MsgApp)(c)
	case pb.MsgAppResp:
		return (*MsgAppResp)(c)
	case pb.MsgVote:
		return (*MsgVote)(c)
	case pb.MsgVoteResp:
		return (*MsgVoteResp)(c)
	case pb.MsgPreVote:
		return (*MsgPreVote)(c)
	case pb.MsgPreVoteResp:
		return (*MsgPreVoteResp)(c)
	case pb.MsgSnap:
		return (*MsgSnap)(c)
	case pb.MsgHeartbeat:
		return (*MsgHeartbeat)(c)
	case pb.MsgHeartbeatResp:
		return (*MsgHeartbeatResp)(c)
	case pb.MsgProp:
		return (*MsgProp)(c)
	}
	return (*MsgOther)(c)
}

// unwire returns the raftpb.Message a wire value carries (nil for anything
// else).
func unwire(v any) *pb.Message {
	switch m := v.(type) {
	case *MsgApp:
		return (*pb.Message)(m)
	case *MsgAppResp:
		return (*pb.Message)(m)
	case *MsgVote:
		return (*pb.Message)(m)
	case *MsgVoteResp:
		return (*pb.Message)(m)
	case *MsgPreVote:
		return (*pb.Message)(m)
	case *MsgPreVoteResp:
		return (*pb.Message)(m)
	case *MsgSnap:
		return (*pb.Message)(m)
	case *MsgHeartbeat:
		return (*pb.Message)(m)
	case *MsgHeartbeatResp:
		return (*pb.Message)(m)
	case *MsgProp:
		return (*pb.Message)(m)
	case *MsgOther:
		return (*pb.Message)(m)
	}
	return nil
}
