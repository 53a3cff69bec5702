export {
  PacketObserver,
  canonicalAddress,
  type ObserverIssue,
  type ObserverIssueSource,
  type PacketObserverOptions,
  type PacketObserverStats,
} from './observer.js';
