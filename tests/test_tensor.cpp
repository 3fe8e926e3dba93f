// SPDX-License-Identifier: Apache-2.0
// Tensor: factories, element access, views that alias, copies, and run-time errors.
#include "reference.hpp"

using namespace pretext;

TEST_CASE_TEMPLATE("factories and element access", T, float, double) {
  auto z = zeros<T>({2, 3});
  CHECK(z.shape() == Shape<2>{2, 3});
  CHECK(z.is_contiguous());
  CHECK(z.to_vector() == std::vector<T>(6, T(0)));
  auto o = ones<T>({4});
  CHECK(o.to_vector() == std::vector<T>(4, T(1)));
  auto f = full<T>({2, 2}, T(2.5));
  CHECK(f(1, 1) == T(2.5));
  auto a = Tensor<T, 2>::from({2, 3}, {0, 1, 2, 3, 4, 5});
  CHECK(a(1, 2) == T(5));
  CHECK(a.at(0, 1) == T(1));
  a(0, 0) = T(7);
  CHECK(a.to_vector()[0] == T(7));
  CHECK(scalar_tensor<T>(T(3)).item() == T(3));
  CHECK(arange<T>(4).to_vector() == std::vector<T>{0, 1, 2, 3});
  CHECK_THROWS_AS((Tensor<T, 2>::from({2, 2}, {1, 2, 3})), shape_error);
  CHECK_THROWS_AS(a.at(2, 0), index_error);
  CHECK_THROWS_AS(a.at(0, -1), index_error);
  CHECK_THROWS_AS(a.item(), shape_error);
  CHECK_THROWS_AS(zeros<T>({-1, 2}), shape_error);
  CHECK_FALSE(Tensor<T, 2>().defined());
}

TEST_CASE("views share storage with their base") {
  auto a = Tensor<float, 2>::from({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  auto row = a.select(0, 1);
  CHECK(row.to_vector() == std::vector<float>{4, 5, 6, 7});
  row(2) = 60;
  CHECK(a(1, 2) == 60);
  auto col = a.select(1, -1);
  CHECK(col.to_vector() == std::vector<float>{3, 7, 11});
  auto n = a.narrow(1, 1, 2);
  CHECK(n.shape() == Shape<2>{3, 2});
  CHECK(n.to_vector() == std::vector<float>{1, 2, 5, 60, 9, 10});
  CHECK_FALSE(n.is_contiguous());
  auto s = a.slice(1, 0, 4, 2);
  CHECK(s.to_vector() == std::vector<float>{0, 2, 4, 60, 8, 10});
  CHECK(a.slice(0, -2, 100).shape() == Shape<2>{2, 4});
  CHECK(a.slice(0, 2, 1).numel() == 0);
  auto t = a.t();
  CHECK(t.shape() == Shape<2>{4, 3});
  CHECK(t(2, 1) == 60);
  CHECK(t.shares_storage(a));
  CHECK_THROWS_AS(a.narrow(1, 3, 2), index_error);
  CHECK_THROWS_AS(a.select(0, 3), index_error);
  CHECK_THROWS_AS(a.permute({0, 0}), index_error);
}

TEST_CASE("permute, reshape and view") {
  Generator g(1);
  auto x = normal<double>({2, 3, 4}, g);
  auto p = x.permute({2, 0, 1});
  CHECK(p.shape() == Shape<3>{4, 2, 3});
  CHECK(p(3, 1, 2) == x(1, 2, 3));
  // A reshape that the strides allow is a view; one they do not allow copies.
  auto r = x.reshape({6, -1});
  CHECK(r.shape() == Shape<2>{6, 4});
  CHECK(r.shares_storage(x));
  CHECK(r(5, 3) == x(1, 2, 3));
  auto rp = p.reshape({4, 6});  // p's last two axes are still contiguous with each other: a view
  CHECK(rp.shares_storage(x));
  CHECK(rp(3, 5) == x(1, 2, 3));
  auto flat = p.reshape({24});  // all three together are not: a copy
  CHECK_FALSE(flat.shares_storage(x));
  CHECK(flat(3 * 6 + 5) == x(1, 2, 3));
  // Splitting and merging axes inside a contiguous run of a permuted tensor is a view.
  auto tr = x.transpose(1, 2);  // (2, 4, 3)
  auto v = tr.view({2, 2, 2, 3});
  CHECK(v.shares_storage(x));
  CHECK(v(1, 1, 0, 2) == x(1, 2, 2));
  CHECK_THROWS_AS(tr.view({24}), shape_error);
  CHECK_THROWS_AS(x.reshape({5, -1}), shape_error);
  CHECK_THROWS_AS(x.reshape({-1, -1}), shape_error);
  const auto msg = test::error_message<shape_error>([&] { x.view({5, 5}); });
  CHECK(msg.find("[2, 3, 4]") != std::string::npos);
  CHECK(msg.find("[5, 5]") != std::string::npos);
  CHECK(x.flatten().shape() == Shape<1>{24});
  CHECK(zeros<float>({0, 3}).reshape({3, 0, 2}).shape() == Shape<3>{3, 0, 2});
  // -1 is ambiguous for an empty tensor (as in PyTorch).
  CHECK_THROWS_AS(zeros<float>({0, 3}).reshape({3, -1}), shape_error);
}

TEST_CASE("expand, unsqueeze and squeeze") {
  auto a = Tensor<float, 1>::from({3}, {1, 2, 3});
  auto e = a.unsqueeze(1).expand({2, 3, 4});
  CHECK(e.shape() == Shape<3>{2, 3, 4});
  CHECK(e.strides() == Strides<3>{0, 1, 0});
  CHECK(e(1, 2, 3) == 3);
  CHECK(a.unsqueeze(0).shape() == Shape<2>{1, 3});
  CHECK(a.unsqueeze(-1).shape() == Shape<2>{3, 1});
  CHECK(a.unsqueeze(0).squeeze(0).to_vector() == a.to_vector());
  CHECK_THROWS_AS(a.squeeze(0), shape_error);
  CHECK_THROWS_AS(a.expand({2, 4}), shape_error);
}

TEST_CASE("contiguous, clone, fill_ and copy_") {
  auto a = Tensor<float, 2>::from({2, 3}, {1, 2, 3, 4, 5, 6});
  auto t = a.t();
  auto c = t.contiguous();
  CHECK(c.is_contiguous());
  CHECK_FALSE(c.shares_storage(a));
  CHECK(c.to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(a.contiguous().shares_storage(a));
  auto k = a.clone();
  k(0, 0) = 100;
  CHECK(a(0, 0) == 1);
  a.narrow(1, 1, 2).fill_(0);
  CHECK(a.to_vector() == std::vector<float>{1, 0, 0, 4, 0, 0});
  a.copy_(Tensor<float, 1>::from({3}, {7, 8, 9}));  // broadcast over rows
  CHECK(a.to_vector() == std::vector<float>{7, 8, 9, 7, 8, 9});
  t.copy_(Tensor<float, 2>::from({3, 2}, {1, 2, 3, 4, 5, 6}));  // through a transposed view
  CHECK(a.to_vector() == std::vector<float>{1, 3, 5, 2, 4, 6});
  CHECK_THROWS_AS(a.copy_(Tensor<float, 1>::from({2}, {1, 2})), shape_error);
  // A large strided copy runs on both threads and equals the serial one.
  Generator g(2);
  auto big = normal<float>({300, 500}, g);
  std::vector<float> ref;
  test::with_threads([&](int n) {
    auto v = big.t().contiguous().to_vector();
    if (n == 1)
      ref = v;
    else
      CHECK(v == ref);
  });
  CHECK(ref[1] == big(1, 0));
}

TEST_CASE("rank-0 and empty tensors") {
  auto s = scalar_tensor<double>(4);
  CHECK(s.numel() == 1);
  CHECK(s.clone().item() == 4);
  auto e = zeros<float>({0, 5});
  CHECK(e.numel() == 0);
  CHECK(e.empty());
  CHECK(e.clone().shape() == Shape<2>{0, 5});
  CHECK(e.t().contiguous().shape() == Shape<2>{5, 0});
  CHECK(e.to_vector().empty());
}

TEST_CASE("tensors print their type, shape and small contents") {
  std::ostringstream os;
  os << Tensor<float, 2>::from({1, 2}, {1, 2});
  CHECK(os.str() == "Tensor<float32, 2, cpu>[1, 2] {1, 2}");
}
