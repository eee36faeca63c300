#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace metafs::extraction {

// One long-lived thread that starts every worker process. Workers set PR_SET_PDEATHSIG, which
// fires when the *thread* that spawned them exits; libfuse starts and ends its request threads
// at will, so spawning from them would kill healthy workers.
class WorkerSpawner {
 public:
  WorkerSpawner();
  // Drops the jobs still queued and joins the thread (after the job that is running).
  ~WorkerSpawner();
  WorkerSpawner(const WorkerSpawner&) = delete;
  WorkerSpawner& operator=(const WorkerSpawner&) = delete;

  // Queues `job` to run on the spawner thread. Jobs must not throw.
  void post(std::function<void()> job);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace metafs::extraction
