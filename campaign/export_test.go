package campaign

import "context"

// CommitAsOneBatch runs the requests as one batch, in order, whatever the
// batcher would have grouped: the property test compares it with one
// commitment at a time.
func (s *Service) CommitAsOneBatch(ctx context.Context, reqs []CommitRequest) ([]Commitment, []error) {
	jobs := make([]*commitJob, len(reqs))
	for i, in := range reqs {
		jobs[i] = newJob(ctx, in)
	}
	s.processBatch(jobs)
	outs, errs := make([]Commitment, len(jobs)), make([]error, len(jobs))
	for i, j := range jobs {
		outs[i], errs[i] = j.out, j.err
	}
	return outs, errs
}
