#include "server/lifecycle.h"

namespace xai::server {

LifecycleThread::LifecycleThread(std::function<void()> poll, std::chrono::milliseconds period)
    : poll_(std::move(poll)), period_(period), thread_([this] { Run(); }) {}

LifecycleThread::~LifecycleThread() { Stop(); }

void LifecycleThread::Post(std::function<void(bool)> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      tasks_.push_back(std::move(task));
      wake_.notify_all();
      return;
    }
  }
  task(/*stopped=*/true);
}

void LifecycleThread::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void LifecycleThread::Run() {
  auto next_poll = std::chrono::steady_clock::now() + period_;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (!tasks_.empty()) {
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      const bool stopped = stopping_;
      lock.unlock();
      task(stopped);
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (poll_ && period_.count() > 0) {
      if (std::chrono::steady_clock::now() >= next_poll) {
        lock.unlock();
        poll_();
        lock.lock();
        next_poll = std::chrono::steady_clock::now() + period_;
        continue;
      }
      wake_.wait_until(lock, next_poll);
    } else {
      wake_.wait(lock);
    }
  }
}

}  // namespace xai::server
