package media_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"moments/media"
)

// portraitPhone is phoneJPEG as a phone stores a portrait photo: the
// sensor's landscape pixels with EXIF orientation 6, so Save also turns it.
func portraitPhone(b *testing.B) []byte {
	return withSegments(phoneJPEG(b), exifAPP1(6))
}

// BenchmarkSavePhoneJPEG saves a 4032×3024, ~3 MB JPEG: decode, scale to
// 2560×1920, turn upright, encode, thumbnail, two fsynced files. MB/s is of
// upload bytes.
func BenchmarkSavePhoneJPEG(b *testing.B) {
	upload := portraitPhone(b)
	lib := newLibrary(b, media.Options{})
	b.SetBytes(int64(len(upload)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := lib.Save(context.Background(), bytes.NewReader(upload)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSavePhoneJPEG4Concurrent starts four Saves of the phone JPEG at
// once, with the default worker count (GOMAXPROCS) and with four workers,
// and reports the peak of the live heap (sampled every millisecond) and
// the process's peak RSS (VmHWM, which only grows: run one sub-benchmark
// per process for a clean figure; base-VmHWM is where it stood before the
// Saves, after making the test image).
func BenchmarkSavePhoneJPEG4Concurrent(b *testing.B) {
	upload := portraitPhone(b)
	for _, workers := range []int{0, 4} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			lib := newLibrary(b, media.Options{Workers: workers})
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			baseHWM := vmHWM(b)
			peak := sampleHeap(b, func() {
				for b.Loop() {
					var wg sync.WaitGroup
					for range 4 {
						wg.Go(func() {
							if _, err := lib.Save(context.Background(), bytes.NewReader(upload)); err != nil {
								b.Error(err)
							}
						})
					}
					wg.Wait()
				}
			})
			var end runtime.MemStats
			runtime.ReadMemStats(&end)
			b.ReportMetric(float64(peak-base.HeapInuse)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(end.HeapSys)/(1<<20), "HeapSys-MiB")
			b.ReportMetric(float64(end.Sys)/(1<<20), "Sys-MiB")
			if hwm := vmHWM(b); hwm > 0 {
				b.ReportMetric(float64(baseHWM)/(1<<20), "base-VmHWM-MiB")
				b.ReportMetric(float64(hwm)/(1<<20), "VmHWM-MiB")
			}
		})
	}
}

// sampleHeap runs fn and returns the largest HeapInuse seen meanwhile.
func sampleHeap(b *testing.B, fn func()) uint64 {
	b.Helper()
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				result <- peak
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(done)
	return <-result
}

// vmHWM is the peak resident set size of this process, in bytes, or 0
// where /proc is not there.
func vmHWM(b *testing.B) int64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	return 0
}
