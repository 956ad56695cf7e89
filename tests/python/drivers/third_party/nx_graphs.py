# probe-modules: networkx.algorithms.shortest_paths.weighted networkx.algorithms.shortest_paths.unweighted networkx.algorithms.traversal.depth_first_search networkx.algorithms.traversal.breadth_first_search networkx.algorithms.dag networkx.algorithms.components.connected networkx.algorithms.link_analysis.pagerank_alg networkx.classes.graph networkx.algorithms.cycles
# networkx: graph classes, traversals (generators), shortest paths,
# topological orders, components, PageRank, cycles.
import networkx as nx

G = nx.Graph()
G.add_weighted_edges_from([(i, (i * 7 + 3) % 20, 1 + (i % 5)) for i in range(20)] + [(i, i + 1, 2) for i in range(19)])
G.add_node("lonely")
print(G.number_of_nodes(), G.number_of_edges(), sorted(d for _, d in G.degree())[:8])
print(nx.dijkstra_path(G, 0, 13), nx.dijkstra_path_length(G, 0, 13), nx.bellman_ford_path(G, 0, 13))
print(sorted(nx.single_source_dijkstra_path_length(G, 0, cutoff=5).items())[:6])
print(nx.bidirectional_dijkstra(G, 0, 13), nx.shortest_path(G, 2, 9), nx.shortest_path_length(G, 2, 9))
print(sorted(nx.single_source_shortest_path_length(G, 4).items())[:6], nx.has_path(G, 0, "lonely"))
print(list(nx.all_shortest_paths(G, 0, 10))[:3], nx.goldberg_radzik(G, 0)[1][5], nx.negative_edge_cycle(G))
print(list(nx.dfs_preorder_nodes(G, 0))[:10], list(nx.dfs_postorder_nodes(G, 0, depth_limit=3))[:6])
print(list(nx.dfs_edges(G, 5))[:5], list(nx.dfs_labeled_edges(G, 5))[:4], sorted(nx.dfs_predecessors(G, 5).items())[:4])
print(list(nx.bfs_edges(G, 0))[:6], list(nx.bfs_layers(G, [0]))[:3], sorted(nx.bfs_successors(G, 3))[:3])
print(sorted(len(c) for c in nx.connected_components(G)), nx.number_connected_components(G), nx.is_connected(G))
D = nx.DiGraph([(a, b) for a in range(8) for b in range(a + 1, 8) if (a * b) % 3 == 1])
print(list(nx.topological_sort(D)), nx.is_directed_acyclic_graph(D), list(nx.topological_generations(D)))
print(nx.dag_longest_path(D), nx.dag_longest_path_length(D), sorted(nx.ancestors(D, 7)), sorted(nx.descendants(D, 1)))
print(list(nx.all_topological_sorts(nx.DiGraph([(1, 2), (1, 3)]))), sorted(nx.transitive_reduction(D).edges())[:5])
print(sorted(nx.lexicographical_topological_sort(D, key=lambda n: -n))[:4], nx.is_aperiodic(nx.DiGraph([(1, 2), (2, 1)])))
C = nx.DiGraph([(0, 1), (1, 2), (2, 0), (2, 3), (3, 1), (3, 4)])
print(sorted(sorted(c) for c in nx.simple_cycles(C)), nx.find_cycle(C, 0), sorted(map(sorted, nx.cycle_basis(G)))[:3])
try:
    list(nx.topological_sort(C))
except nx.NetworkXUnfeasible as e:
    print("error", e)
try:
    nx.dijkstra_path(G, 0, "lonely")
except nx.NetworkXNoPath as e:
    print("error", e)
pr = nx.pagerank(D.to_undirected(), alpha=0.9, tol=1e-10)
print(sorted((k, round(v, 6)) for k, v in pr.items())[:4])
H = G.subgraph(range(10)).copy()
H.remove_edges_from(list(H.edges())[:3])
H.add_edge(0, 9, weight=0.5)
print(sorted(H.edges(data="weight"))[:5], H.has_edge(0, 9), list(H.neighbors(0)), H.size(weight="weight"))
print(nx.to_dict_of_lists(H)[0], sorted(nx.Graph(nx.path_graph(4)).adj[1]), nx.freeze(H).is_frozen() if hasattr(nx.freeze(H), "is_frozen") else nx.is_frozen(H))
