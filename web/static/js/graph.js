/* Graph view: draw the neighbourhood listed on the page with cytoscape.
 *
 * Loaded (defer) by templates/graph.html after the vendored cytoscape. Reads the page's
 * JSON twin (data-src on #graph-canvas) and shows #graph-figure only once the drawing
 * has worked; without JavaScript, without cytoscape or on any error the lists on the
 * page stay the whole view. Selecting a node moves to its own graph view. The lists are
 * the keyboard and screen-reader path: the canvas is aria-hidden.
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

  function elements(data) {
    var out = [];
    data.nodes.forEach(function (n) {
      out.push({
        group: "nodes",
        data: {
          id: n.id,
          kind: n.kind,
          label: shorten(n.label, 40),
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
          label: e.type,
          weak: how === "suggested" || how === "rejected" ? 1 : 0
        }
      });
    });
    return out;
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
      maxZoom: 3,
      style: [
        {
          selector: "node",
          style: {
            "background-color": "data(colour)",
            label: "data(label)",
            "font-size": 10,
            color: "#1b1b1b",
            "text-valign": "bottom",
            "text-margin-y": 3,
            "text-wrap": "ellipsis",
            "text-max-width": "160px",
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
            "font-size": 7,
            color: "#4c6272",
            "text-rotation": "autorotate",
            "text-background-color": "#ffffff",
            "text-background-opacity": 0.8
          }
        },
        { selector: "edge[weak = 1]", style: { "line-style": "dashed" } }
      ],
      layout: {
        name: "concentric",
        concentric: function (node) { return node.data("center") ? 2 : 1; },
        levelWidth: function () { return 1; },
        minNodeSpacing: 24,
        animate: false
      }
    });
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
