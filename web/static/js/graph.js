/* Graph view: draw the neighbourhood listed on the page with cytoscape.
 *
 * Loaded (defer) by templates/graph.html after the vendored cytoscape. Reads the page's
 * JSON twin (data-src on #graph-canvas) and shows #graph-figure only once the drawing
 * has worked; without JavaScript, without cytoscape or on any error the lists on the
 * page stay the whole view. Selecting a node moves to its own graph view. The lists are
 * the keyboard and screen-reader path: the canvas is aria-hidden.
 *
 * Layout: the force-directed fCoSE layout (vendored cytoscape-fcose, with its cose-base
 * and layout-base), which counts each node's label in its size; then a pass that moves
 * apart any two nodes whose boxes, labels included, still touch, so that no label ever
 * lies on another (a grid is the last resort). #graph-canvas gets data-drawn="true" when
 * the drawing is final.
 * No inline scripts, no eval (a Content Security Policy will forbid both).
 */
(function () {
  "use strict";

  var box = document.getElementById("graph-canvas");
  var figure = document.getElementById("graph-figure");
  if (!box || !figure || typeof window.cytoscape !== "function" || !window.fetch) {
    return;
  }

  var COLOURS = {
    solution: "#005eb8",
    initiative: "#007f3b",
    evaluation: "#8a5a00",
    site: "#4c6272",
    outcome: "#7c2855"
  };

  function shorten(text, max) {
    text = String(text || "");
    return text.length > max ? text.slice(0, max - 1) + "\u2026" : text;
  }

  /* "IMPLEMENTS" -> "implements", "TRIED_AT" -> "tried at": edge labels for people. */
  function words(type) {
    return String(type || "").toLowerCase().replace(/_/g, " ");
  }

  function elements(data) {
    var out = [];
    data.nodes.forEach(function (n) {
      out.push({
        group: "nodes",
        data: {
          id: n.id,
          kind: n.kind,
          label: shorten(n.label, 60),
          full: n.label,
          colour: COLOURS[n.kind] || "#425563",
          center: n.id === data.center.id ? 1 : 0
        }
      });
    });
    data.edges.forEach(function (e, i) {
      var how = e.how || "declared";
      out.push({
        group: "edges",
        data: {
          id: "e" + i,
          source: e.source,
          target: e.target,
          label: words(e.type),
          weak: how === "suggested" || how === "rejected" ? 1 : 0,
          crowded: data.edges.length > CROWDED ? 1 : 0
        }
      });
    });
    return out;
  }

  var CROWDED = 24; /* more edges than this: edge labels on hover only */
  var PAD = 24; /* around the drawing, in screen pixels */
  var GAP = 8; /* least room between two nodes' boxes, labels included (model pixels) */

  function boxesOf(nodes) {
    return nodes.map(function (n) {
      var b = n.boundingBox({ includeLabels: true, includeOverlays: false });
      return { x1: b.x1 - GAP / 2, y1: b.y1 - GAP / 2, x2: b.x2 + GAP / 2, y2: b.y2 + GAP / 2 };
    });
  }

  function touching(a, b) {
    return a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2;
  }

  /* Moves apart, along the shorter way out, every two nodes whose boxes touch; the centre
   * node stays put. True when no two boxes touch any more. */
  function separate(cy, center) {
    var nodes = cy.nodes().toArray();
    var boxes = boxesOf(nodes);
    var shift = function (k, dx, dy) {
      var p = nodes[k].position();
      nodes[k].position({ x: p.x + dx, y: p.y + dy });
      boxes[k] = { x1: boxes[k].x1 + dx, y1: boxes[k].y1 + dy,
                   x2: boxes[k].x2 + dx, y2: boxes[k].y2 + dy };
    };
    for (var pass = 0; pass < 400; pass++) {
      var moved = false;
      for (var i = 0; i < nodes.length; i++) {
        for (var j = i + 1; j < nodes.length; j++) {
          var a = boxes[i], b = boxes[j];
          if (!touching(a, b)) { continue; }
          moved = true;
          var ox = Math.min(a.x2 - b.x1, b.x2 - a.x1);
          var oy = Math.min(a.y2 - b.y1, b.y2 - a.y1);
          var sx = (a.x1 + a.x2) <= (b.x1 + b.x2) ? -1 : 1; /* which way i goes */
          var sy = (a.y1 + a.y2) <= (b.y1 + b.y2) ? -1 : 1;
          var dx = ox <= oy ? (ox + 1) * sx : 0;
          var dy = ox <= oy ? 0 : (oy + 1) * sy;
          var iFixed = nodes[i].id() === center, jFixed = nodes[j].id() === center;
          if (iFixed) { shift(j, -dx, -dy); }
          else if (jFixed) { shift(i, dx, dy); }
          else { shift(i, dx / 2, dy / 2); shift(j, -dx / 2, -dy / 2); }
        }
      }
      if (!moved) { return true; }
    }
    return false;
  }

  /* The last resort: a grid whose cells hold the largest box, the centre first. */
  function grid(cy, center) {
    var nodes = cy.nodes().sort(function (a, b) {
      return (b.id() === center) - (a.id() === center);
    }).toArray();
    var boxes = boxesOf(nodes);
    var w = 0, h = 0;
    boxes.forEach(function (b) { w = Math.max(w, b.x2 - b.x1); h = Math.max(h, b.y2 - b.y1); });
    var columns = Math.ceil(Math.sqrt(nodes.length * h / Math.max(w, 1)) * 1.3) || 1;
    nodes.forEach(function (n, k) {
      n.position({ x: (k % columns) * (w + GAP), y: Math.floor(k / columns) * (h + GAP) });
    });
  }

  function arrange(cy, center) {
    var forces = typeof window.cytoscapeFcose === "function";
    try {
      cy.layout(forces ? {
        name: "fcose",
        quality: "proof",
        animate: false,
        fit: false,
        randomize: true,
        nodeDimensionsIncludeLabels: true,
        idealEdgeLength: function () { return 90; },
        nodeRepulsion: function () { return 12000; },
        nodeSeparation: 90,
        packComponents: true,
        fixedNodeConstraint: [{ nodeId: center, position: { x: 0, y: 0 } }]
      } : {
        name: "concentric",
        concentric: function (node) { return node.id() === center ? 2 : 1; },
        levelWidth: function () { return 1; },
        minNodeSpacing: 40,
        nodeDimensionsIncludeLabels: true,
        animate: false,
        fit: false
      }).run();
    } catch (e) {
      cy.layout({ name: "circle", animate: false, fit: false }).run();
    }
    if (!separate(cy, center)) {
      grid(cy, center);
    }
    /* As tall as the drawing needs to be read at its full size (within limits). */
    var extent = cy.elements().boundingBox();
    var width = Math.max(200, cy.container().clientWidth - 2 * PAD);
    var zoom = Math.min(1.2, width / Math.max(extent.w, 1));
    cy.container().style.height =
      Math.round(Math.max(260, Math.min(900, extent.h * zoom + 2 * PAD))) + "px";
    cy.resize();
    cy.fit(undefined, PAD);
  }

  function draw(data) {
    if (!data || !data.ok || !data.center || !Array.isArray(data.nodes)) {
      return;
    }
    figure.hidden = false;
    box.style.height = Math.max(320, Math.min(720, 240 + data.nodes.length * 4)) + "px";
    box.style.border = "1px solid #d8dde0";
    var cy = window.cytoscape({
      container: box,
      elements: elements(data),
      minZoom: 0.2,
      maxZoom: 1.6,
      style: [
        {
          selector: "node",
          style: {
            "background-color": "data(colour)",
            label: "data(label)",
            "font-size": 11,
            color: "#1b1b1b",
            "text-valign": "bottom",
            "text-margin-y": 3,
            "text-wrap": "wrap",
            "text-max-width": "130px",
            "text-background-color": "#ffffff",
            "text-background-opacity": 0.85,
            "text-background-padding": "1px",
            width: 14,
            height: 14
          }
        },
        {
          selector: "node[center = 1]",
          style: {
            width: 26,
            height: 26,
            "font-size": 12,
            "font-weight": "bold",
            "border-width": 3,
            "border-color": "#ffeb3b"
          }
        },
        {
          selector: "edge",
          style: {
            width: 1.5,
            "line-color": "#aeb7bd",
            "target-arrow-color": "#aeb7bd",
            "target-arrow-shape": "triangle",
            "curve-style": "bezier",
            label: "data(label)",
            "font-size": 9,
            color: "#425563",
            "text-rotation": "autorotate",
            "text-background-color": "#ffffff",
            "text-background-opacity": 1,
            "text-background-padding": "2px"
          }
        },
        { selector: "edge[weak = 1]", style: { "line-style": "dashed" } },
        /* Many edges: their labels only on hover, else they would hide the nodes' labels. */
        { selector: "edge[crowded = 1]", style: { "text-opacity": 0 } },
        { selector: "edge[crowded = 1].hover", style: { "text-opacity": 1, "z-index": 10 } }
      ],
      layout: { name: "preset" }
    });
    arrange(cy, data.center.id);
    box.setAttribute("data-drawn", "true");
    var center = data.center.id;
    var base = box.getAttribute("data-base") || "/graph";
    cy.on("tap", "node", function (evt) {
      var id = evt.target.id();
      if (id !== center) {
        window.location.assign(base + "?node=" + encodeURIComponent(id));
      }
    });
    cy.on("mouseover", "node", function (evt) {
      box.style.cursor = evt.target.id() === center ? "default" : "pointer";
      box.title = evt.target.data("full");
    });
    cy.on("mouseover", "edge", function (evt) { evt.target.addClass("hover"); });
    cy.on("mouseout", "edge", function (evt) { evt.target.removeClass("hover"); });
    cy.on("mouseout", "node", function () {
      box.style.cursor = "";
      box.title = "";
    });
  }

  window.fetch(box.getAttribute("data-src"), {
    headers: { Accept: "application/json" },
    credentials: "same-origin"
  })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(draw)
    .catch(function () {
      figure.hidden = true; /* the lists remain the view */
    });
})();
